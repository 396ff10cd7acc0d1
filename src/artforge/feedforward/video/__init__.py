"""Video stylisation: o_t = (m w) * W(o_{t-1}) + (1 - m w) * f(x_t) (then f(x_t)'s local contrast), per-frame
feed-forward stylisation made temporally consistent by occlusion-aware warping of the previous output (Ruder et al.
2016); PyAV in, PyAV out.

Modules: ``io`` (decode / encode / audio), ``flow`` (DIS flow + reliability), ``temporal`` (warp + blend),
``pipeline`` (``stylize_video``, ``FrameStyliser``). Importing the package loads nothing; PyAV and OpenCV (the
``video`` extra) are imported only when a video is processed.
"""
