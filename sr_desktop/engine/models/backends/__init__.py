"""Backends: what runs a loaded model's network graph.

A model (`SRModel`) keeps its own conventions (padding, colour, range, crops) in ``run``;
the network graph inside it is run by torch unless a backend runner is attached
(``model.runner``). `choose.apply_backend` attaches one for the ``--backend`` option:

    torch      the model's torch module (on CPU the zoo's fused oneDNN plan where it applies)
    openvino   the same graph converted once by OpenVINO, cached on disk, run on the CPU
    ncnn       the zoo's own ncnn files run by the ncnn runtime (CPU, or Vulkan GPUs)
    auto       the fastest of these on this machine, measured once per model and cached

(A model with no network, bicubic's, says ``pillow``.)
"""
