"""The window's status bar: the news of the moment (an error in red; long ones wrap),
the recording, the live feeds and the rates."""

from PyQt5.QtWidgets import QLabel, QStatusBar


class StatusLine:
    """The labels on `bar`, and what they say. While the model is missing
    (`model_error`), other news says so too."""

    def __init__(self, bar: QStatusBar):
        self.message = QLabel("")
        self.message.setWordWrap(True)        # long messages wrap instead of being cut
        self.rec_label = QLabel("")
        self.rec_label.setStyleSheet("color: #c0392b; font-weight: bold")
        self.feed_label = QLabel("")          # the live feeds: where, how many clients
        self.stats = QLabel("")
        bar.addWidget(self.message, 1)
        for label in (self.rec_label, self.feed_label, self.stats):
            bar.addPermanentWidget(label)
        self.is_error = False
        self.model_error = ""                 # why no model is working; "" when one is

    def show(self, text: str, error: bool = False, about_model: bool = False):
        if self.model_error and not about_model:
            text, error = f"{text} | Emotion model not loaded: {self.model_error}", True
        self.message.setText(text)
        self.message.setToolTip(text)
        self.is_error = error
        self.message.setStyleSheet("color: #c0392b; font-weight: bold" if error else "")

    def show_recording(self, recorder):
        """REC and the length of the video recorded so far (what its file holds);
        paused with the video, and frames the disk could not keep up with."""
        if not recorder.active:
            self.rec_label.setText("")
            return
        secs = int(recorder.length_s)
        paused = " \u00b7 paused with the video" if recorder.paused else ""
        behind = f" ({recorder.skipped} skipped: disk too slow)" if recorder.skipped else ""
        self.rec_label.setText(f"\u25cf REC {secs // 60}:{secs % 60:02d}{paused}{behind}")

    def show_rates(self, s: dict):
        n = s["faces"]
        self.stats.setText(f"capture {s['capture_fps']:.1f} fps · processing "
                           f"{s['processing_fps']:.1f} fps · latency {s['latency_ms']:.0f} ms"
                           f" · {n} face{'s' if n != 1 else ''}")
