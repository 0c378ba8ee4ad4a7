"""Full-setting runtime and results of 06_clip: python bench/bench_06_clip.py"""
from common import main_for

if __name__ == "__main__":
    main_for("06_clip")
