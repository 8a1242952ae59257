"""What every export format's writer does, and the GDAL file that four of them (and Shapefile's lines and polygons)
are written to through pyogrio's raw writer."""

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pyogrio import raw

from layers.io.exports.columns import Column
from layers.io.exports.fetch import Chunk, Part
from layers.registry import Layer


class ExportWriter(ABC):
    """One export's file in one format: begun for each part (output layer), fed that part's chunks as column
    arrays, then finished into the one file handed over."""

    suffix: str  # of the file handed over
    one_geometry_type = False  # a file holds one geometry type: a mixed layer is split into one part per type
    progress_share = 0.9  # of the progress, what writing the chunks fills; finishing the file takes the rest

    def __init__(self, *, layer: Layer, columns: list[Column], workdir: Path):
        self.layer, self.columns, self.workdir = layer, columns, workdir
        self.field_names = [c.name for c in columns]

    def xy(self, part: Part) -> bool:
        """Whether the part's geometry is fetched as coordinates (`Chunk.xy`) rather than as WKB (`Chunk.wkb`)."""
        return False

    @abstractmethod
    def begin(self, part: Part) -> None: ...

    @abstractmethod
    def add(self, chunk: Chunk, data: list[np.ndarray], masks: list[np.ndarray | None]) -> None: ...

    @abstractmethod
    def finish(self) -> Path: ...


@dataclass
class GdalFile:
    """One output layer's file written by GDAL: chunks appended as they come where the driver appends cheaply,
    else gathered and written once."""

    path: Path
    driver: str
    geometry_type: str
    fields: list[str]
    appendable: bool  # the driver appends a chunk cheaply (no rewrite of what is there)
    layer_options: dict = field(default_factory=dict)
    dataset_options: dict = field(default_factory=dict)
    written: int = 0
    _held: list[tuple[np.ndarray, list[np.ndarray], list[np.ndarray | None]]] = field(default_factory=list)

    def add(self, geometry: np.ndarray, data: list[np.ndarray], masks: list[np.ndarray | None]) -> None:
        if self.appendable:
            self._write(geometry, data, masks, append=self.written > 0)
        else:
            self._held.append((geometry, data, masks))
        self.written += len(geometry)

    def close(self) -> None:
        if self.appendable and self.written:
            return
        if not self._held:  # an empty layer still makes a readable file with the right fields
            self._write(
                np.array([], dtype=object),
                [np.array([], dtype=object) for _ in self.fields],
                [None] * len(self.fields),
                append=False,
            )
            return
        geometry = np.concatenate([g for g, _, _ in self._held])
        data, masks = [], []
        for i in range(len(self.fields)):
            data.append(np.concatenate([d[i] for _, d, _ in self._held]))
            parts = [m[i] for _, _, m in self._held]
            masks.append(
                None
                if all(m is None for m in parts)
                else np.concatenate(
                    [
                        np.zeros(len(d[i]), dtype=bool) if m is None else m
                        for (_, d, _), m in zip(self._held, parts, strict=True)
                    ]
                )
            )
        self._held.clear()
        self._write(geometry, data, masks, append=False)

    def _write(self, geometry, data, masks, *, append: bool) -> None:
        raw.write(
            str(self.path),
            geometry,
            data,
            self.fields,
            field_mask=masks if any(m is not None for m in masks) else None,
            layer=self.path.stem,
            driver=self.driver,
            geometry_type=self.geometry_type,
            crs="EPSG:4326",
            append=append,
            promote_to_multi=False,
            layer_options=None if append else (self.layer_options or None),
            dataset_options=None if append else (self.dataset_options or None),
        )


class GdalWriter(ExportWriter):
    """A format GDAL writes whole: one file, of the one part."""

    driver: str
    appendable: bool  # GDAL's driver appends a chunk without rewriting the file

    @property
    def progress_share(self) -> float:  # a gathered file is written at the end, in the last tenth
        return 1.0 if self.appendable else 0.9

    def layer_options(self) -> dict:
        return {}

    def dataset_options(self) -> dict:
        return {}

    def begin(self, part: Part) -> None:
        self.file = GdalFile(
            self.workdir / f"{part.stem}{self.suffix}",
            self.driver,
            part.geometry_type,
            self.field_names,
            self.appendable,
            self.layer_options(),
            self.dataset_options(),
        )

    def add(self, chunk: Chunk, data: list[np.ndarray], masks: list[np.ndarray | None]) -> None:
        self.file.add(chunk.wkb, data, masks)

    def finish(self) -> Path:
        self.file.close()
        return self.file.path
