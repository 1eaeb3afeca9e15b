"""Hitachi `Key=Value` sidecars as PC-SEM (SU-series, Regulus) and an HT7700 TEM PC write them.

The SEM layout follows the real TM4000 sample in `shared/vendor-samples/hitachi-sem-txt` key by
key. No HT7700 sidecar is public: the `[TemImageFile]` layout below is invented in the same
style (same core keys: `InstructName`, `Magnification`, `AcceleratingVoltage`, `Date`, `Time`,
`DataSize`, `PixelSize` in nm), so a tolerant Hitachi reader handles both.
"""

from __future__ import annotations

from datetime import datetime

#: Hitachi's magnification refers to a 127 mm wide print (4x5 inch Polaroid): FOV = 127 mm / mag.
HITACHI_REFERENCE_NM = 127e6
#: HT7700 bottom camera (AMT XR41-B class): 2048 px x 7.4 µm = 15.155 mm at the camera plane.
TEM_CAMERA_WIDTH_NM = 15.155e6

ENCODINGS = ("cp1252", "utf-16-le-bom", "cp932")

_SEM_VERSION = {"SU8000": "02-05", "SU8230": "03-02", "Regulus8230": "05-01"}
_SERIAL = {"SU8000": "8000-4127-02", "SU8230": "8230-5086-07", "Regulus8230": "8230-5086-07", "HT7700": "7700-1348-03"}
_SCAN_SPEED = ("Slow4", "Slow3", "CSS", "Fast(Integ8)", "Slow5(40s)")


def encode_sidecar(text: str, encoding: str) -> bytes:
    """Bytes as the microscope PC writes them. ANSI code pages write `?` for what they cannot encode."""
    if encoding == "utf-16-le-bom":
        return b"\xff\xfe" + text.encode("utf-16-le")
    return text.encode(encoding, errors="replace")


def format_date(when: datetime, style: str) -> str:
    if style == "YYYY/MM/DD":
        return when.strftime("%Y/%m/%d")
    if style == "MM/DD/YYYY":
        return when.strftime("%m/%d/%Y")
    raise ValueError(style)


def _num(value: float, digits: int = 2) -> str:
    text = f"{value:.{digits}f}".rstrip("0").rstrip(".")
    return text or "0"


def _mag_short(mag: float) -> str:
    if mag >= 1000:
        return f"x{mag / 1000:.1f}k"
    return f"x{mag:g}"


def micron_marker_nm(fov_nm: float) -> int:
    """The scale bar PC-SEM burns in: a 1-2-5 value of about a third of the field of view."""
    target = fov_nm / 3
    best = 1
    exponent = 0
    while 10**exponent <= target * 10:
        for m in (1, 2, 5):
            value = m * 10**exponent
            if value <= target:
                best = value
        exponent += 1
    return int(best)


def _identity_lines(f: dict) -> list[str]:
    """The lines both Hitachi layouts write about the file: its number, sample, names and time."""
    when: datetime = f["when"]
    return [
        f"DataNumber={f['data_number']}",
        f"SampleName={f['sample']}",
        f"Format={f['primary_ext'][1:]}",
        f"ImageName={f['image_name']}",
        f"Directory={f['pc_directory']}",
        f"Date={format_date(when, f['date_format'])}",
        f"Time={when:%H:%M:%S}",
    ]


def sem_sidecar(f: dict) -> str:
    """`[SemImageFile]` text (CRLF) for a SU8000 / SU8230 / Regulus8230 frame."""
    model = f["model"]
    width, height = f["width"], f["height"]
    mag = f["magnification"]
    kv = f["kv"]
    wd_um = f["wd_um"]
    pixel_nm = f["pixel_size_m"] * 1e9  # decided by the plan (127 mm / magnification / width)
    signal = f["detector"]
    lines = [
        "[SemImageFile]",
        f"InstructName={model}",
        f"SemVersion={_SEM_VERSION.get(model, '03-02')}",
        "SDMVersion=",
        f"SerialNumber={_SERIAL.get(model, '')}",
        *_identity_lines(f),
        "Media=HD[Data]",
        f"DataSize={width}x{height}",
        f"PixelSize={pixel_nm:.4f}",
        f"SignalName={signal}",
        f"DisplaySignalName={signal}",
        "SEDetSetting=" + ("" if not signal.startswith("SE") else "Normal"),
        f"AcceleratingVoltage={int(round(kv * 1000))} Volt",
        "DecelerationVoltage=0 Volt",
        "DecelerationMode=OFF",
        f"Magnification={int(mag)}",
        f"WorkingDistance={_num(wd_um)} um",
        f"EmissionCurrent={f['emission_na']} nA",
        "PhotoSize=1000",
        "MagnificationDisplay=0",
        "Vacuum=",
        f"MicronMarker={micron_marker_nm(HITACHI_REFERENCE_NM / mag)}",
        "SubMagnification=0",
        "SubSignalName=",
        "SpecimenBias=0 V",
        f"Condencer1={f['condenser']}",
        f"ScanSpeed={_SCAN_SPEED[f['variant'] % len(_SCAN_SPEED)]}",
        "CaptureSpeed_Integration=",
        "CalibrationScanSpeed=",
        "ImgEnhance=0",
        "ColorMode=Grayscale",
        "ColorPalette=",
        "ScreenMode=Full Screen",
        f"Comment={f['comment']}",
        "KeyWord1=",
        "KeyWord2=",
        f"Condition=Vacc={kv:.1f}kV Mag={_mag_short(mag)} WD={wd_um / 1000:.1f}mm",
        "DataDisplayCombine=1",
        "StageType=5",
        f"StagePositionX={f['stage_x']}",
        f"StagePositionY={f['stage_y']}",
        "StagePositionR=0.000",
        f"StagePositionZ={int(round(wd_um * 1000))}",
        "StagePositionT=0.000",
        "FocusDepth=",
        "DynamicFocus=0",
        "TiltCompensation=0",
        "ImageShiftX=",
        "ImageShiftY=",
        "RasterRotation=0.0",
        "MagneticSample=",
        f"UserName={f['user']}",
    ]
    return "\r\n".join(lines) + "\r\n"


def tem_sidecar(f: dict) -> str:
    """`[TemImageFile]` text (CRLF) for an HT7700 frame (invented layout, Hitachi conventions)."""
    width, height = f["width"], f["height"]
    mag = f["magnification"]
    pixel_nm = f["pixel_size_m"] * 1e9  # decided by the plan (camera width / magnification / width)
    mode = "Low Mag" if mag < 5000 else ("HR" if mag >= 300000 else "HC")
    lines = [
        "[TemImageFile]",
        f"InstructName={f['model']}",
        "TemVersion=03.11",
        f"SerialNumber={_SERIAL['HT7700']}",
        *_identity_lines(f),
        f"DataSize={width}x{height}",
        f"PixelSize={pixel_nm:.5f}",
        f"AcceleratingVoltage={int(round(f['kv'] * 1000))} Volt",
        f"EmissionCurrent={f['emission_na']} nA",
        f"Mode={mode}",
        f"Magnification={int(mag)}",
        "CameraName=AMT XR41-B",
        f"ExposureTime={200 + 100 * (f['variant'] % 8)} ms",
        "Binning=1",
        f"ObjectiveAperture={1 + f['variant'] % 3}",
        "CameraLength=",
        f"StagePositionX={f['stage_x']}",
        f"StagePositionY={f['stage_y']}",
        "StageTiltX=0.0",
        f"Comment={f['comment']}",
        f"UserName={f['user']}",
    ]
    return "\r\n".join(lines) + "\r\n"


def sidecar_text(f: dict) -> str:
    return tem_sidecar(f) if f["technique"] == "TEM" else sem_sidecar(f)
