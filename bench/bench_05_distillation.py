"""Full-setting runtime and results of 05_distillation: python bench/bench_05_distillation.py"""
from common import main_for

if __name__ == "__main__":
    main_for("05_distillation")
