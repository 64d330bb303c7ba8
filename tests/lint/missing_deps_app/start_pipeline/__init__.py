from ..shared.ml_client import submit


def main(job: dict) -> str:
    return submit(job["experiment"])
