"""The instructor's grader: ``python -m helpers grade SUBMISSIONS_DIR --out OUT_DIR``.

One fresh kernel process per submitted notebook, under limits the operating system
enforces, the course's own checks run by the grader after the learner's cells, and a
verdict the notebook cannot forge. The parts:

- ``discover``: who the students are, which notebook is which lesson, the newest of two;
- ``channel``: the framed, authenticated messages between a kernel and its supervisor,
  and the fingerprint of everything a verdict depends on;
- ``kernel``: the process a notebook runs in (IPython's shell, no Jupyter messaging);
- ``supervisor``: one per notebook: starts the kernel under limits, enforces the wall
  clock and memory, kills every process the notebook started, reruns what it can after
  a crash;
- ``runner``: the parallel pool of supervisors with a progress bar;
- ``report``: gradebook.csv, results.json, feedback/<student>.md, GitHub Classroom's result;
- ``cli``: the command line.
"""
