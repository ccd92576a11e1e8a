"""The bench ids of the two bicubic baselines, light to import (the command line's flags
and the window's model list name them; `upscalers` imports numpy)."""

#: the bench id of the MATLAB bicubic baseline
MATLAB_BICUBIC_ID = "bicubic"
#: the bench id of the engine's (Pillow) bicubic model
ENGINE_BICUBIC_ID = "bicubic-pil"
