"""Full-setting runtime and results of 00_evaluation: python bench/bench_00_evaluation.py"""
from common import main_for

if __name__ == "__main__":
    main_for("00_evaluation")
