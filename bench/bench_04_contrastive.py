"""Full-setting runtime and results of 04_contrastive: python bench/bench_04_contrastive.py"""
from common import main_for

if __name__ == "__main__":
    main_for("04_contrastive")
