"""The course's assignments and their graded API (from COURSE_SPEC.md), in lecture order."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# name -> graded API: function name -> parameter list as written in the signature ("class" for classes)
ASSIGNMENTS: dict[str, dict[str, str]] = {
    "00_evaluation": {
        "extract_features": "encoder, images, batch_size=256",
        "knn_predict": "train_features, train_labels, test_features, num_classes, k=20, temperature=0.07",
    },
    "01_diffusion": {
        "linear_beta_schedule": "num_timesteps, beta_start=0.0001, beta_end=0.02",
        "cosine_beta_schedule": "num_timesteps, s=0.008, max_beta=0.999",
        "q_sample": "x0, t, noise, alphas_cumprod",
        "q_posterior_mean_variance": "x0, x_t, t, betas",
        "predict_x0_from_eps": "x_t, t, eps, alphas_cumprod",
        "ddpm_loss": "model, x0, alphas_cumprod",
        "p_sample_step": "eps_pred, x_t, t, betas, noise",
    },
    "02_masked_modeling": {
        "mask_tokens": "input_ids, vocab_size, mask_token_id, special_tokens_mask, mlm_probability=0.15, generator=None",
        "patchify": "images, patch_size",
        "unpatchify": "patches, patch_size, channels",
        "random_masking": "x, mask_ratio, noise=None",
        "mae_loss": "images, pred, mask, patch_size, norm_pix_loss=False",
    },
    "03_pretext_tasks": {
        "rotate_batch": "images",
        "sample_patch_pair": "image, patch_size, gap, jitter, generator=None",
        "relative_position_batch": "images, patch_size, gap, jitter, generator=None",
    },
    "04_contrastive": {
        "info_nce_loss": "query, positive_key, negative_keys, temperature=0.1",
        "cpc_loss": "predictions, targets",
        "simclr_augment": "images, generator=None",
        "nt_xent_loss": "z1, z2, temperature=0.5",
        "momentum_update": "online, target, momentum",
        "MemoryQueue": "class",
        "moco_loss": "q, k, queue, temperature=0.07",
    },
    "05_distillation": {
        "byol_loss": "p, z",
        "cosine_momentum": "step, total_steps, base=0.996, final=1.0",
        "dino_loss": "student_out, teacher_out, center, student_temp=0.1, teacher_temp=0.04",
        "update_center": "center, teacher_out, momentum=0.9",
    },
    "06_clip": {
        "clip_loss": "image_emb, text_emb, logit_scale",
        "zero_shot_classify": "image_emb, class_text_emb",
    },
}


def solution_path(assignment: str) -> Path:
    return ROOT / "solutions" / assignment / f"{assignment}.ipynb"


def release_path(assignment: str) -> Path:
    return ROOT / "notebooks" / assignment / f"{assignment}.ipynb"


def suite_path(assignment: str) -> Path:
    return Path(__file__).resolve().parent / "suites" / f"test_{assignment}.py"


def available() -> list[str]:
    """Assignments whose solution notebook exists, in lecture order."""
    return [a for a in ASSIGNMENTS if solution_path(a).exists()]
