"""Full-setting runtime and results of 03_pretext_tasks: python bench/bench_03_pretext_tasks.py"""
from common import main_for

if __name__ == "__main__":
    main_for("03_pretext_tasks")
