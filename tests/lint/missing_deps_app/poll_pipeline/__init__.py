from ..shared.ml_client import status


def main(job: str) -> str:
    return status(job)
