"""An OCI image layout directory as a repository (``repository.py``).

Its parts: the directory and its marker (``directory.py``), how files are touched
(``files.py``: safe opens, atomic writes, crash leftovers), ``index.json`` (``index.py``)
and the referrers a layout records (``referrers.py``).
"""
