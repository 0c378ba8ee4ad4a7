"""Full-setting runtime and results of 02_masked_modeling: python bench/bench_02_masked_modeling.py"""
from common import main_for

if __name__ == "__main__":
    main_for("02_masked_modeling")
