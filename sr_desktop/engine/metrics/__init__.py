"""Image-quality metrics and the evaluation protocol of the SR literature (no Qt).

Modules (MATLAB's bicubic ``imresize`` they degrade with is ``engine.compute.matlab_resize``):
    color           MATLAB ``rgb2ycbcr`` (BT.601) and the evaluation channel ``luma_y``
    fullref         ``psnr``, ``ssim``, ``ssim_map``, ``ms_ssim`` (Gaussian 11×11, σ = 1.5)
    maps            displayable RGB maps: ``difference_map``, ``ssim_display_map``, ``gradient_map``
    noref           ``sharpness`` and ``consistency`` for images without ground truth
    niqe            ``niqe`` (Mittal et al. 2013, MATLAB's algorithm): no-reference naturalness
    perceptual      ``load_perceptual``: LPIPS / DISTS from the user's weight files (`lpips`,
                    `dists`, on `vgg16`; files checked by `weight_files`); ``PI_REFUSAL``
    degradation     ``Degradation`` (bicubic | kernel), ``parse_degradation``, ``degrade_uint8``
    upscalers       what is evaluated: ``MatlabBicubic``, ``EngineUpscaler``, ``FunctionUpscaler``
    evaluate        ``score_pair``, ``evaluate_image``, ``evaluate_dataset``, ``evaluate_models``
    report          table / JSON / CSV / plot of a ``BenchReport``
    timing          ``Timing`` (seconds, MP/s, device, peak memory, tiles), ``PeakMemory``
    errors          ``EvaluationError``

Import from the modules: this package imports nothing itself, so that the command line can
read the bench's constants without importing torch.
"""
