"""The confusion matrix of `evaluate` as a picture, drawn with OpenCV so that
evaluating needs no plotting library."""

import cv2
import numpy as np


def matrix_image(matrix, labels, title: str, cell=70) -> np.ndarray:
    """A heat map with counts, rows = true class, columns = predicted class."""
    m = np.asarray(matrix, dtype=np.float64)
    n = len(labels)
    left, top = 90, 80
    img = np.full((top + cell * n + 20, left + cell * n + 20, 3), 255, np.uint8)
    row_sum = np.maximum(m.sum(axis=1, keepdims=True), 1)
    frac = m / row_sum
    for i in range(n):
        for j in range(n):
            shade = int(255 - 200 * frac[i, j])
            x, y = left + j * cell, top + i * cell
            cv2.rectangle(img, (x, y), (x + cell, y + cell), (255, shade, shade), -1)
            cv2.rectangle(img, (x, y), (x + cell, y + cell), (200, 200, 200), 1)
            color = (255, 255, 255) if frac[i, j] > 0.5 else (0, 0, 0)
            cv2.putText(img, str(int(m[i, j])), (x + 8, y + cell // 2 + 5),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.45, color, 1)
        cv2.putText(img, labels[i][:8], (5, top + i * cell + cell // 2 + 5),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
        cv2.putText(img, labels[i][:8], (left + i * cell + 4, top - 8),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
    cv2.putText(img, title, (5, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1)
    # axis titles: columns are the predicted class, rows (labelled left) the true one
    cv2.putText(img, "predicted", (left + cell * n // 2 - 40, 48), cv2.FONT_HERSHEY_SIMPLEX,
                0.55, (0, 0, 0), 1)
    cv2.putText(img, "true", (5, top - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1)
    return img
