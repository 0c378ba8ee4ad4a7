"""Full-setting runtime and results of 01_diffusion: python bench/bench_01_diffusion.py"""
from common import main_for

if __name__ == "__main__":
    main_for("01_diffusion")
