"""What Help > About and Help > Keyboard shortcuts show."""

def app_version() -> str:
    """The one version (app.__version__), installed or run from a checkout."""
    from app import __version__

    return __version__


SHIPPED_ROW = "shipped default"  # marks the shipped model's row in the card's results table


def model_card_accuracy() -> str:
    """The shipped model's FER-2013 results, as its card's results row states them."""
    from model.runtime.classifier import ASSETS

    try:
        lines = (ASSETS / "MODEL_CARD.md").read_text(encoding="utf-8").splitlines()
    except OSError:
        return ""
    row = next((line for line in lines if SHIPPED_ROW in line), "")
    cells = [c.strip(" *") for c in row.strip("|").split("|")]
    if len(cells) < 3:
        return ""
    return (f"The shipped model on FER-2013: PublicTest {cells[1]}, PrivateTest {cells[2]} "
            "(assets/MODEL_CARD.md)")


def shortcuts_html(rows) -> str:
    """(what, keys) rows as a small HTML table."""
    return "<table cellspacing='6'>" + "".join(
        f"<tr><td>{what}</td><td><b>{keys}</b></td></tr>" for what, keys in rows) + "</table>"


def about_html(title: str, model_name: str) -> str:
    return (f"<b>{title}</b> {app_version()}<br>Faces and their emotions, live, on this "
            f"computer; nothing is sent anywhere.<br><br>Emotion model: "
            f"{model_name or 'not loaded'}<br>{model_card_accuracy()}")
