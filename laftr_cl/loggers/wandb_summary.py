"""The end of a run's wandb run: its final metrics in the summary, then ``wandb.finish``."""
from __future__ import annotations

from typing import Any


def finish_wandb(payload: dict[str, Any]) -> None:
    """Puts the final metrics in the wandb run's summary (when a wandb logger is active)."""
    try:
        import wandb
    except ImportError:
        return
    if wandb.run is None:
        return
    wandb.run.summary.update({f"final/{k}": v for k, v in payload["final"].items() if v is not None})
    wandb.run.summary["accuracy_matrix"] = payload["accuracy_matrix"]
    wandb.run.summary["average_accuracy_per_task"] = payload["average_accuracy_per_task"]
    wandb.run.summary["summary_memory_bytes"] = payload["summary_memory_bytes"]
    wandb.run.summary["wall_time_s"] = payload["wall_time_s"]
    wandb.finish()
