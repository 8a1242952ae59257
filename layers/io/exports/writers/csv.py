"""CSV: GDAL's driver cannot append X/Y columns, so the chunks' columns are gathered and written once at the end;
points as X and Y columns, other geometries as WKT."""

import numpy as np

from layers.io.exports.columns import Column
from layers.io.exports.fetch import Chunk
from layers.io.exports.writers.base import GdalWriter
from layers.io.readers import formula_quoted  # the importer reads back what the exporter writes


def _formulas_neutralised(columns: list[Column], data: list[np.ndarray]) -> None:
    """Text cells that a spreadsheet would run as formulas (`=HYPERLINK(…)`), quoted (see readers.formula_quoted);
    numbers stay numbers."""
    for i, column in enumerate(columns):
        if column.kind in ("text", "list", "personal"):
            values = data[i]
            data[i] = np.array([formula_quoted(v) if isinstance(v, str) and v else v for v in values], dtype=object)


class CSVWriter(GdalWriter):
    suffix = ".csv"
    driver = "CSV"
    appendable = False

    def layer_options(self) -> dict:
        geometry_field = self.layer.model._meta.get_field(self.layer.geometry_field)
        return {
            "WRITE_BOM": "YES",  # lets spreadsheet programs read the Chinese text as UTF-8
            "GEOMETRY": "AS_XY" if geometry_field.geom_type == "POINT" else "AS_WKT",
        }

    def add(self, chunk: Chunk, data: list[np.ndarray], masks: list[np.ndarray | None]) -> None:
        _formulas_neutralised(self.columns, data)
        super().add(chunk, data, masks)
