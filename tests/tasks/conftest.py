"""See shared_runs.py: the task tests' folders are importable from every test here."""

from shared_runs import add_task_test_folders

add_task_test_folders()
