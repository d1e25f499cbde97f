"""One edit applied to many photos: in this process, on a pool of local worker processes, or on a Dask cluster.

Why: a shoot is graded as a whole, and every `apply`/`enhance` call re-imports torch and reloads the model.
Here a `Recipe` (the edit, as the editor's sidecar steps) and a list of `Task` (input file, output file) go
to workers that each build the recipe once (models loaded once, an imported LUT read once) and then treat
one photo at a time, so memory is one photo per worker. Each photo goes through the editor's own
`EditDocument`, so an adaptive preset predicts each photo's own LUT and the result equals an editor export.

Outputs keep the file name, format, bit depth and EXIF; writes are atomic, so a photo whose output exists is
complete and is skipped unless `overwrite` (a rerun after a crash resumes). A photo that fails is reported
and the batch goes on. The same function runs in all three places, so a cluster run gives the same bytes
as a local one (torch runs on one thread per worker, which also makes its sums run in one order).

Modules: `recipe` (the edit), `tasks` (planning, outcomes, the report), `photo` (one photo in a worker),
`run` (in this process, a local pool or Dask); their public names are here.
"""

from engine.batch.photo import process_photo
from engine.batch.recipe import BATCH_KINDS, DEFAULT_UPSCALE_MODEL, TORCH_KINDS, Recipe
from engine.batch.run import default_workers, run_batch
from engine.batch.tasks import WRITABLE_SUFFIXES, BatchReport, Outcome, Task, collect_photos, output_path, plan

__all__ = [
    "BATCH_KINDS",
    "DEFAULT_UPSCALE_MODEL",
    "TORCH_KINDS",
    "WRITABLE_SUFFIXES",
    "BatchReport",
    "Outcome",
    "Recipe",
    "Task",
    "collect_photos",
    "default_workers",
    "output_path",
    "plan",
    "process_photo",
    "run_batch",
]
