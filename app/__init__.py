"""The desktop app and the frame pipeline (source -> detect -> crop -> classify ->
track -> draw), the pipeline usable on its own:

    from app import EmotionPipeline
    with EmotionPipeline() as pipe:       # the `with` ends its reading thread
        faces = pipe.process(bgr_frame, timestamp=seconds)   # [Detection]
"""

__version__ = "0.2.0"   # the one place; setup.cfg and --version read it
APP_ID = "emotion-detector"     # the command, the menu entry and the log folder
APP_NAME = "EmotionDetector"    # the settings, picture and log folders

__all__ = ["Detection", "EmotionPipeline", "PipelineConfig", "__version__"]


def __getattr__(name):
    # loaded on first use: `emotion-detector --help` imports no OpenCV or model
    if name == "EmotionPipeline":
        from app.core.pipeline import EmotionPipeline

        return EmotionPipeline
    if name == "Detection":
        from app.nouns import Detection

        return Detection
    if name == "PipelineConfig":
        from app.core.config import PipelineConfig

        return PipelineConfig
    raise AttributeError(f"module 'app' has no attribute {name!r}")
