"""What Help > About and Help > Keyboard shortcuts show."""

from pathlib import Path


def app_version() -> str:
    """The one version (app.__version__), installed or run from a checkout."""
    from app import __version__

    return __version__


def card_line(card: dict) -> str:
    """The model's results against the crowd as its card states them (read off the GUI thread,
    with the model: app.core.run_info), or nothing for a model the card does not name."""
    if not card:
        return ""
    return ("Agrees with most of ten people on FER-2013's faces (FER+): "
            + ", ".join(f"{split} {value}" for split, value in card.items())
            + " (assets/MODEL_CARD.md)")


def shortcuts_html(rows) -> str:
    """(what, keys) rows as a small HTML table."""
    return "<table cellspacing='6'>" + "".join(
        f"<tr><td>{what}</td><td><b>{keys}</b></td></tr>" for what, keys in rows) + "</table>"


def about_html(title: str, run: dict | None) -> str:
    """`run`: the model in use (VideoEngine.run_info), None before one is loaded."""
    model = (run or {}).get("model") or {}
    name = Path(model["path"]).name if model.get("path") else "not loaded"
    return (f"<b>{title}</b> {app_version()}<br>Faces and their emotions, live, on this "
            f"computer; nothing is sent anywhere.<br><br>Emotion model: {name}<br>"
            f"{card_line(model.get('card') or {})}")
