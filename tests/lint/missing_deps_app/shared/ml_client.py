"""The ML service's client: a package the lint job does not install."""

import azureml.core  # not installed where the linter runs


def submit(experiment: str) -> str:
    return azureml.core.Experiment(experiment).submit().id


def status(run_id: str) -> str:
    return azureml.core.Run.get(run_id).status
