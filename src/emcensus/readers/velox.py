"""Thermo Fisher Velox `.emd` (HDF5): one JSON metadata document per image dataset.

Images live in `/Data/Image/<uuid>/` as `Data` (height × width × frames) and `Metadata` (JSON as
a zero-padded uint8 column per frame; only the first column is read, never `Data`'s values).
Fields: `Instrument.InstrumentModel`/`Manufacturer`, `Optics.AccelerationVoltage` (V),
`BinaryResult.Detector` and `PixelSize.width` with `PixelUnitX` (`m`; anything else is reciprocal
space and gives no pixel size), `Optics.NominalMagnification` (TEM) or
`CustomProperties.StemMagnification` (STEM), `Acquisition.AcquisitionStartDatetime.DateTime`
(Unix seconds, kept as local time like the mtime fallback). STEM vs TEM comes from the type of the
detector that made the image (`ScanningDetector` vs `ImagingDetector`).
Pitfall: `BinaryResult.ImageSize` is the camera's full frame (4096) while `PixelSize` refers to the
stored, binned image (512): width and height are taken from the dataset's shape.
An EMD may hold several images: the first (by dataset name) is the record; all of them are
summarised in `original_metadata["images"]`. Several frames make a `stack`; a reciprocal pixel
unit (`1/m`) a `diffraction` pattern.

Only what is inside the file is read: an HDF5 external or soft link is never resolved (it could
name a file outside the archive, or a FIFO), and a dataset with external storage or virtual
(mapped) data is never read. The file is opened through the access policy's handle.
"""

from __future__ import annotations

import json
from typing import Any

from emcensus import access
from emcensus.errors import UnreadableFileError
from emcensus.readers.base import Reader, Reading, Source
from emcensus.readers.common import from_unix, json_safe, text_or_none, vendor_from_name
from emcensus.readers.generic import check_dimensions
from emcensus.readers.units import positive

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
MAX_METADATA_BYTES = 16 << 20


def _get(tree: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(tree, dict):
            return None
        tree = tree.get(key)
    return tree


def _detector_type(meta: dict[str, Any], name: str | None) -> str | None:
    detectors = meta.get("Detectors")
    for entry in detectors.values() if isinstance(detectors, dict) else []:
        if isinstance(entry, dict) and entry.get("DetectorName") == name:
            return text_or_none(entry.get("DetectorType"))
    return None


def parse_velox(meta: dict[str, Any], height: int | None = None, width: int | None = None,
                frames: int = 1) -> Reading:
    """One Velox image's metadata document (and its dataset shape) as a `Reading`."""
    if not isinstance(meta, dict):
        raise UnreadableFileError("Velox metadata is not a JSON object")
    detector = text_or_none(_get(meta, "BinaryResult", "Detector"))
    kind = _detector_type(meta, detector)
    stem_mag = positive(_get(meta, "CustomProperties", "StemMagnification", "value"))
    technique = "STEM" if kind == "ScanningDetector" else "TEM" if kind == "ImagingDetector" else None
    if technique is None and stem_mag:
        technique = "STEM"
    unit = text_or_none(_get(meta, "BinaryResult", "PixelUnitX"))
    magnification = stem_mag if technique == "STEM" else positive(_get(meta, "Optics", "NominalMagnification"))
    start = _get(meta, "Acquisition", "AcquisitionStartDatetime", "DateTime")
    model = text_or_none(_get(meta, "Instrument", "InstrumentModel"))
    return Reading(
        vendor=vendor_from_name(text_or_none(_get(meta, "Instrument", "Manufacturer"))),
        model=model,
        technique=technique,
        detector=detector,
        magnification=magnification,
        accelerating_voltage_v=positive(_get(meta, "Optics", "AccelerationVoltage")),
        pixel_size_m=positive(_get(meta, "BinaryResult", "PixelSize", "width")) if unit == "m" else None,
        width_px=width,
        height_px=height,
        acquired_at=from_unix(start) or from_unix(_get(meta, "Acquisition", "AcquisitionDatetime", "DateTime")),
        original_metadata=json_safe(meta),
        metadata_source="emd-json",
        kind="stack" if frames > 1 else "diffraction" if unit and unit.startswith("1/") else "image",
    )


def member(group: Any, name: str) -> Any:
    """`group[name]` through hard links only: an external or soft link is reported, never resolved."""
    import h5py

    link = group.get(name, getlink=True)
    if link is None:
        return None
    if isinstance(link, h5py.ExternalLink):
        raise UnreadableFileError(f"HDF5 external link {name!r} to another file: not followed")
    if not isinstance(link, h5py.HardLink):
        raise UnreadableFileError(f"HDF5 {type(link).__name__} {name!r}: not followed")
    return group.get(name)


def check_inside(dataset: Any, name: str) -> Any:
    """`dataset` if its values are stored in this file; external storage and virtual data are refused."""
    if dataset.external or dataset.is_virtual:
        raise UnreadableFileError(f"HDF5 dataset {name!r} keeps its data in another file: not read")
    return dataset


def _metadata(group: Any) -> dict[str, Any]:
    dataset = member(group, "Metadata")
    if dataset is None or dataset.ndim != 2 or dataset.shape[0] > MAX_METADATA_BYTES:
        raise UnreadableFileError("Velox image without a Metadata column")
    # Compressed chunks are decoded whole: column 0 costs rows × chunk width bytes (a bomb when wide).
    if dataset.chunks is not None and dataset.shape[0] * dataset.chunks[1] > 4 * MAX_METADATA_BYTES:
        raise UnreadableFileError(f"Velox Metadata chunks of {dataset.chunks} would decode "
                                  f"{dataset.shape[0] * dataset.chunks[1]:,} bytes for one column; not read")
    raw = check_inside(dataset, "Metadata")[:, 0].tobytes().split(b"\x00", 1)[0]
    try:
        meta = json.loads(raw.decode("utf-8", errors="replace"))
    except ValueError as exc:
        raise UnreadableFileError(f"Velox metadata is not JSON: {exc}") from exc
    if not isinstance(meta, dict):
        raise UnreadableFileError("Velox metadata is not a JSON object")
    return meta


def _shape(group: Any) -> tuple[int, ...]:
    """The image dataset's shape (height, width, frames), read from its header, never its values."""
    data = member(group, "Data")
    shape = tuple(int(side) for side in getattr(data, "shape", None) or ())
    if len(shape) < 2:
        raise UnreadableFileError("Velox image without a 2-D Data dataset")
    check_dimensions(shape[0], shape[1])
    return shape


class VeloxEmdReader(Reader):
    name = "velox-emd"
    vendor = "FEI/Thermo"
    extensions = frozenset({".emd"})

    def accepts(self, source: Source) -> bool:
        return source.head.startswith(HDF5_MAGIC)

    def read(self, source: Source) -> Reading:
        import h5py

        try:
            with access.open_file(source.path) as stream, h5py.File(stream, "r") as handle:
                data = member(handle, "Data")
                images = member(data, "Image") if isinstance(data, h5py.Group) else None
                if not isinstance(images, h5py.Group) or not len(images):
                    raise UnreadableFileError("HDF5 file without /Data/Image: not a Velox EMD image file")
                names = sorted(images)
                first = member(images, names[0])
                if not isinstance(first, h5py.Group):
                    raise UnreadableFileError(f"Velox image {names[0]!r} is not a group")
                shape = _shape(first)
                meta = _metadata(first)
                reading = parse_velox(meta, shape[0], shape[1], shape[2] if len(shape) > 2 else 1)
                reading.original_metadata = {
                    "metadata": reading.original_metadata,
                    # the first image's metadata is decoded once, for the record and its summary
                    "images": [_describe(names[0], meta, shape), *(_summary(name, images) for name in names[1:])],
                    "other_data": sorted(key for key in data if key != "Image"),
                }
                return reading
        except UnreadableFileError:
            raise
        except Exception as exc:  # h5py raises OSError, KeyError, ValueError... on damaged files
            raise UnreadableFileError(f"damaged EMD/HDF5 file: {type(exc).__name__}: {exc}") from exc


def _describe(name: str, meta: dict[str, Any], shape: tuple[int, ...]) -> dict[str, Any]:
    """Name, shape and detector of one image dataset, for the multi-image summary."""
    return {"name": name, "shape": list(shape), "detector": text_or_none(_get(meta, "BinaryResult", "Detector"))}


def _summary(name: str, images: Any) -> dict[str, Any]:
    """`_describe` of the image dataset `name`, or why it could not be read."""
    try:
        group = member(images, name)
        return _describe(name, _metadata(group), _shape(group))
    except UnreadableFileError as exc:
        return {"name": name, "shape": [], "detector": None, "not_read": str(exc)}
