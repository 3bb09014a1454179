"""The demo facility catalogue: a realistic, reproducible ESRF-like ICAT, at any size.

``seed_demo`` fills ICAT's tables with a made-up facility that looks like the ESRF's data
portal: ~20 beamlines, proposals with several visits (sessions) spread over the ten years
before an anchor date (a few scheduled after it), teams with the usual roles, samples,
datasets with parameters taken from the ESRF's metadata definitions, datafiles, and a few
data publications (minted DOIs). The same seed and anchor give the same catalogue, row for
row and id for id. Rows are generated and written in batches (Core ``executemany``, one
commit per batch), so a million datasets never sit in memory at once.

Embargo: experiment and in-house sessions are released three years after they end
(``RELEASEDATE = ENDDATE + 1095 days``, the facility's DAYSUNTILRELEASE); proprietary
(industrial) sessions, about 7 %, have no release date. Every session has a DOI
(``10.5072/<facility>-ES-<id>``, under DataCite's test prefix). Scheduled sessions carry
datasets too, so that the counts are exactly those of the ``DemoSize``.

Well-known users (created first, whatever the size; the tests rely on them):

- ``esrf/staff1``: facility staff and beamline scientist of ID30A-1. Staff rights come from
  the gateway's settings (``ICAT_GATEWAY_STAFF_USERS=esrf/staff1``), not from the catalogue.
- ``esrf/scientist1``: beamline scientist of ID30A-1 and of no other beamline. Neither of
  these two is on any session's team (local contacts are other scientists), so what they
  see of ID30A-1 they see as its scientists.
- ``esrf/pi1``: principal investigator of the first sessions generated (when the size
  allows): one released (ID23-1), one under embargo (ID30A-1), one proprietary (ID11),
  one more under embargo (BM29) and one scheduled (ID30A-1, same proposal as the second).
  pi1 has a published data publication covering datasets of the embargoed ID30A-1 session
  and of the released one, and a reserved (draft) one over datasets of the BM29 session.
- ``esrf/member1``: participant in pi1's released and embargoed sessions (not the
  proprietary or the scheduled one).
- ``esrf/outsider1``: on no session's team and scientist of no beamline.

IDs are allocated from one counter shared by all tables, like EclipseLink's ``SEQ_GEN``;
at the end the ``SEQUENCE`` row ``SEQ_GEN`` is set past the last id (rounded up to the
allocation size, 50) so that later writers do not collide with the demo's rows.
"""

from __future__ import annotations

import math
import random
import re
import unicodedata
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from collections.abc import Sequence as SequenceOf
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from icat_esrf_definitions import DEFINITIONS_FILE
from sqlalchemy import Table, delete, func, insert, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.catalogue.database import create_engine, create_schema, drop_schema
from gateway.catalogue.models import (
    Affiliation,
    DataCollection,
    DataCollectionDataset,
    Datafile,
    DatafileFormat,
    DataPublication,
    DataPublicationDate,
    DataPublicationType,
    DataPublicationUser,
    Dataset,
    DatasetInstrument,
    DatasetParameter,
    DatasetTechnique,
    DatasetType,
    Facility,
    IcatBase,
    Instrument,
    InstrumentScientist,
    Investigation,
    InvestigationInstrument,
    InvestigationType,
    InvestigationUser,
    Keyword,
    ParameterType,
    ParameterValueType,
    RelatedItem,
    Sample,
    SampleParameter,
    SampleType,
    Sequence,
    Technique,
    User,
)
from gateway.catalogue.search_documents import naive_utc_now, refresh
from gateway.catalogue.sequence import SEQ_GEN
from gateway.settings import Settings

BATCH_ROWS = 5_000
"""Rows per table buffered before everything buffered is written (and committed)."""

ALLOCATION_SIZE = 50
"""EclipseLink's default sequence preallocation: SEQ_GEN is kept a multiple of it."""

EMBARGO = timedelta(days=1095)
CREATOR = "db/root"
AUTHENTICATOR = "esrf"
DOI_PREFIX = "10.5072"  # DataCite's test prefix: these DOIs never resolve.
HISTORY = timedelta(days=3652)
SCHEDULED_AHEAD = timedelta(days=75)


@dataclass(frozen=True)
class DemoSize:
    """How big a demo catalogue to make."""

    sessions: int
    datasets_per_session: int
    files_per_dataset: int
    big_dataset_files: int = 0
    """Extra files in the first dataset of the first released session (listing benchmarks)."""

    def __post_init__(self) -> None:
        if self.sessions < 1 or self.datasets_per_session < 1:
            raise ValueError("a demo catalogue needs at least one session and one dataset each")
        if self.files_per_dataset < 0 or self.big_dataset_files < 0:
            raise ValueError("file counts cannot be negative")

    @classmethod
    def for_sessions(
        cls,
        sessions: int,
        datasets_per_session: int | None = None,
        files_per_dataset: int | None = None,
    ) -> DemoSize:
        """A catalogue of ``sessions`` sessions; 6 datasets each and 8 files each by default."""
        return cls(
            sessions=sessions,
            datasets_per_session=6 if datasets_per_session is None else datasets_per_session,
            files_per_dataset=8 if files_per_dataset is None else files_per_dataset,
        )


# --------------------------------------------------------------------------------------
# The facility's vocabulary
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TechniqueSpec:
    key: str
    name: str
    panet: str
    energy: tuple[float, float]
    """Photon energy range (keV) of the technique's datasets."""
    parameters: tuple[str, ...]
    """ESRF parameter names its datasets are given (a random 4-10 of them plus generic ones)."""
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)


# The PaNET numbers are made up (the form is PaNET's, the numbers are not its terms).
TECHNIQUES = (
    TechniqueSpec("mx", "macromolecular crystallography", "01188", (12.4, 12.9), (
        "InstrumentMonochromator_energy", "MX_wavelength", "MX_resolution", "MX_exposureTime",
        "MX_numberOfImages", "MX_oscillationRange", "MX_transmission", "MX_detectorDistance",
        "MX_flux", "MX_beamSizeAtSampleX", "InstrumentCryostat01_value", "Workflow_name",
    ), {"InstrumentCryostat01_value": (95, 105)}),
    TechniqueSpec("ssx", "serial crystallography", "01214", (11.5, 12.8), (
        "InstrumentMonochromator_energy", "MX_wavelength", "SSX_experiment_type",
        "SSXChip_model", "MX_exposureTime", "MX_numberOfImages", "MX_transmission",
        "MX_detectorDistance", "MX_flux", "InstrumentCryostat01_value",
    ), {"InstrumentCryostat01_value": (288, 298), "MX_numberOfImages": (10_000, 200_000)}),
    TechniqueSpec("saxs", "small angle X-ray scattering", "01127", (12.0, 12.6), (
        "InstrumentMonochromator_energy", "SAXS_concentration", "SAXS_numberFrames",
        "SAXS_timePerFrame", "SAXS_exposure_temperature", "SAXS_sample_type",
        "SAXS_experimentType", "SAXS_mass", "SAXS_guinier_rg", "InstrumentDetector01_distance",
    )),
    TechniqueSpec("waxs", "wide angle X-ray scattering", "01311", (12.0, 15.0), (
        "InstrumentMonochromator_energy", "InstrumentDetector01_distance",
        "InstrumentDetector01_frame_time", "InstrumentCryostat01_value", "Sample_thickness",
        "scanType",
    ), {"InstrumentDetector01_distance": (0.1, 1.0)}),
    TechniqueSpec("xpcs", "X-ray photon correlation spectroscopy", "01036", (8.0, 10.0), (
        "InstrumentMonochromator_energy", "InstrumentDetector01_frame_time",
        "InstrumentDetector01_distance", "InstrumentCryostat01_value", "Sample_thickness",
        "scanType",
    )),
    TechniqueSpec("xrr", "X-ray reflectivity", "01094", (20.0, 24.0), (
        "InstrumentMonochromator_energy", "InstrumentDetector01_distance", "Sample_situation",
        "scanType", "Sample_thickness",
    ), {"Sample_thickness": (0.0001, 0.01)}),
    TechniqueSpec("tomo", "X-ray tomography", "01102", (19.0, 80.0), (
        "TOMOAcquisition_energy", "TOMOAcquisition_proj_n", "TOMOAcquisition_exposure_time",
        "TOMOAcquisition_sample_pixel_size", "TOMOAcquisition_scan_range",
        "TOMOAcquisition_sample_detector_distance", "TOMOAcquisition_scintillator",
        "TOMOAcquisition_type", "TOMOAcquisition_flat_n", "TOMOAcquisition_dark_n",
        "TOMOAcquisition_optic_name",
    )),
    TechniqueSpec("ptycho", "X-ray ptychography", "01257", (17.0, 33.6), (
        "InstrumentMonochromator_energy", "PTYCHO_beamSize", "PTYCHO_stepSize",
        "PTYCHO_countTime", "PTYCHO_pixelSize", "PTYCHO_focusToDetectorDistance",
    )),
    TechniqueSpec("xrf", "X-ray fluorescence", "01017", (2.1, 9.5), (
        "InstrumentMonochromator_energy", "FLUO_pixelSize", "FLUO_dwellTime", "FLUO_scanDim1",
        "FLUO_scanDim2", "FLUO_scanRange1", "FLUO_scanRange2", "FLUO_i0", "Sample_situation",
    )),
    TechniqueSpec("xas", "X-ray absorption spectroscopy", "01196", (5.0, 25.0), (
        "InstrumentMonochromator_energy", "InstrumentMonochromator_name",
        "InstrumentMonochromatorCrystal_reflection", "InstrumentCryostat01_value",
        "InstrumentDetector01_frame_time", "scanType", "Sample_thickness",
    )),
    TechniqueSpec("xes", "X-ray emission spectroscopy", "01199", (6.0, 12.0), (
        "InstrumentMonochromator_energy", "InstrumentMonochromatorCrystal_reflection",
        "InstrumentDetector01_threshold_energy", "InstrumentCryostat01_value", "scanType",
        "Sample_situation",
    )),
    TechniqueSpec("rixs", "resonant inelastic X-ray scattering", "01241", (0.4, 1.6), (
        "InstrumentMonochromator_energy", "InstrumentCryostat01_value",
        "InstrumentDetector01_frame_time", "scanType", "Sample_situation",
    ), {"InstrumentCryostat01_value": (20, 300)}),
    TechniqueSpec("xrd", "X-ray diffraction", "01031", (30.0, 90.0), (
        "InstrumentMonochromator_energy", "InstrumentMonochromator_wavelength",
        "InstrumentDetector01_distance", "InstrumentDetector01_x_pixel_size",
        "InstrumentCryostat01_value", "InstrumentDetector01_frame_time", "Sample_thickness",
        "scanType",
    ), {"InstrumentDetector01_distance": (0.2, 2.0)}),
    TechniqueSpec("xrpd", "X-ray powder diffraction", "01032", (60.0, 90.0), (
        "HTXRPD_energy", "HTXRPD_exposureTime", "HTXRPD_distance",
        "InstrumentMonochromator_wavelength", "Sample_support", "InstrumentCryostat01_value",
    ), {"InstrumentCryostat01_value": (80, 300)}),
    TechniqueSpec("cdi", "coherent diffraction imaging", "01025", (8.0, 10.0), (
        "InstrumentMonochromator_energy", "BCDI_beamSizeVertical", "BCDI_beamSizeHorizontal",
        "InstrumentDetector01_distance", "InstrumentDetector01_x_pixel_size", "scanType",
    )),
)  # fmt: skip

GENERIC_PARAMETERS = ("InstrumentSource_current", "InstrumentSource_mode", "Sample_situation")
SAMPLE_PARAMETERS = (
    "Sample_thickness", "SampleTrackingParcel_storage_condition", "SampleSolvent01_density",
    "Sample_support",
)  # fmt: skip
ENERGY_PARAMETERS = frozenset(
    {"InstrumentMonochromator_energy", "TOMOAcquisition_energy", "HTXRPD_energy"}
)
WAVELENGTH_PARAMETERS = frozenset({"MX_wavelength", "InstrumentMonochromator_wavelength"})
INTEGER_PARAMETERS = frozenset({
    "TOMOAcquisition_proj_n", "TOMOAcquisition_flat_n", "TOMOAcquisition_dark_n",
    "FLUO_scanDim1", "FLUO_scanDim2", "SAXS_numberFrames",
})  # fmt: skip

# Plausible ranges per parameter (numbers, or numbers written into string parameters).
PARAMETER_RANGES: dict[str, tuple[float, float]] = {
    "MX_resolution": (1.0, 3.0), "MX_exposureTime": (0.002, 0.1),
    "MX_numberOfImages": (100, 3600), "MX_oscillationRange": (0.05, 0.5),
    "MX_transmission": (1, 100), "MX_detectorDistance": (100, 600),
    "MX_flux": (1e11, 5e12), "MX_beamSizeAtSampleX": (0.005, 0.1),
    "InstrumentSource_current": (180, 200),
    "InstrumentDetector01_distance": (0.5, 31), "InstrumentDetector01_frame_time": (0.0005, 2),
    "InstrumentDetector01_x_pixel_size": (55, 172),
    "InstrumentDetector01_threshold_energy": (4, 15),
    "SAXS_concentration": (0.2, 10), "SAXS_numberFrames": (10, 100),
    "SAXS_timePerFrame": (0.1, 2), "SAXS_exposure_temperature": (4, 37),
    "SAXS_guinier_rg": (10, 80), "SAXS_mass": (10, 600),
    "TOMOAcquisition_proj_n": (900, 6000), "TOMOAcquisition_exposure_time": (0.002, 0.5),
    "TOMOAcquisition_sample_pixel_size": (0.65, 25),
    "TOMOAcquisition_sample_detector_distance": (10, 5000),
    "TOMOAcquisition_flat_n": (20, 100), "TOMOAcquisition_dark_n": (10, 50),
    "FLUO_pixelSize": (0.1, 5), "FLUO_dwellTime": (0.005, 0.5), "FLUO_scanDim1": (50, 1000),
    "FLUO_scanDim2": (50, 1000), "FLUO_scanRange1": (10, 500), "FLUO_scanRange2": (10, 500),
    "FLUO_i0": (1e4, 1e6), "HTXRPD_exposureTime": (0.1, 30), "HTXRPD_distance": (200, 1500),
    "BCDI_beamSizeVertical": (0.05, 1), "BCDI_beamSizeHorizontal": (0.05, 1),
    "PTYCHO_beamSize": (0.02, 0.5), "PTYCHO_stepSize": (0.01, 0.3),
    "PTYCHO_countTime": (0.001, 0.2), "PTYCHO_pixelSize": (0.005, 0.05),
    "PTYCHO_focusToDetectorDistance": (500, 7000),
    "Sample_thickness": (0.005, 5), "SampleSolvent01_density": (0.78, 1.59),
}  # fmt: skip

# Fallback ranges by units (low, high); ranges over two decades are drawn log-uniformly.
UNIT_RANGES: dict[str, tuple[float, float]] = {
    "keV": (5, 30), "eV": (0.1, 50), "Å": (0.8, 4), "mm": (0.01, 500), "m": (0.05, 50),
    "μm": (0.05, 500), "nm": (1, 200), "s": (0.001, 10), "ms": (1, 100), "K": (4, 300),
    "°C": (-80, 25), "%": (0, 100), "deg": (-180, 180), "mrad": (0.01, 2), "mA": (150, 200),
    "photons/s": (1e9, 1e13), "Hz": (1, 1000), "J": (1e-6, 1e-2), "kDa": (10, 500),
    "nm³": (10, 1e4), "kV": (200, 300), "Gy": (1, 1000), "kGy": (0.1, 30), "Gy/s": (1, 1e4),
    "Gy/mA/s": (0.1, 100), "electrons/Å²": (1, 60), "pixel": (1, 50), "Å²": (10, 80),
    "g/cm³": (0.8, 20), "a": (18, 90), "kg": (40, 110), "cm": (150, 195),
    "nm·rad": (0.01, 4), "mm/s": (0.1, 50),
}  # fmt: skip
UNIT_NAMES = {
    "keV": "kiloelectronvolt", "eV": "electronvolt", "Å": "ångström", "mm": "millimetre",
    "m": "metre", "μm": "micrometre", "nm": "nanometre", "s": "second", "ms": "millisecond",
    "K": "kelvin", "°C": "degree Celsius", "%": "percent", "deg": "degree",
    "mrad": "milliradian", "mA": "milliampere", "Hz": "hertz", "J": "joule",
    "kDa": "kilodalton", "kV": "kilovolt", "Gy": "gray", "kGy": "kilogray",
}  # fmt: skip
VALUE_CHOICES: dict[str, tuple[str | float, ...]] = {
    "InstrumentSource_mode": ("7/8+1", "uniform", "16-bunch", "4-bunch", "hybrid"),
    "InstrumentSource_name": ("ESRF-EBS",),
    "InstrumentMonochromator_name": ("Si(111) double crystal", "Si(311) double crystal",
                                     "multilayer"),
    "InstrumentMonochromatorCrystal_reflection": ("111", "311", "220", "333"),
    "Sample_situation": ("air", "vacuum", "helium", "nitrogen", "liquid cell"),
    "Sample_support": ("MiTeGen loop", "quartz capillary", "Kapton foil", "SiN membrane"),
    "scanType": ("step_by_step", "continuous"),
    "Workflow_name": ("MXPressE", "MXPressA", "EnhancedCharacterisation", "XrayCentring"),
    "SSX_experiment_type": ("fixed target", "jet", "tape drive"),
    "SSXChip_model": ("Oxford chip", "HARE chip", "MISP chip"),
    "SAXS_sample_type": ("sample", "buffer"),
    "SAXS_experimentType": ("sample changer", "HPLC", "flow cell"),
    "TOMOAcquisition_scintillator": ("GGG 10 um", "LuAG 25 um", "YAG 500 um", "LSO 8 um"),
    "TOMOAcquisition_type": ("full", "half", "quarter"),
    "TOMOAcquisition_optic_name": ("Optique Peter 10x", "Optique Peter 5x", "Twinmic"),
    "TOMOAcquisition_scan_range": (180.0, 360.0),
}  # fmt: skip


@dataclass(frozen=True)
class Science:
    """A scientific area: proposal categories, samples and the words titles are made of."""

    categories: tuple[str, ...]
    samples: tuple[tuple[str, str, str], ...]
    """(sample type name, molecular formula, short stem for sample names)."""
    titles: tuple[str, ...]
    topics: tuple[str, ...]
    systems: tuple[str, ...]
    keywords: tuple[str, ...]


PROTEINS = (
    ("lysozyme", "protein", "lyso"), ("thaumatin", "protein", "thau"),
    ("insulin", "protein", "ins"), ("proteinase K", "protein", "protk"),
    ("glucose isomerase", "protein", "gi"), ("SARS-CoV-2 main protease", "protein", "mpro"),
    ("TEM-1 beta-lactamase", "protein", "bla"), ("bovine serum albumin", "protein", "bsa"),
)  # fmt: skip
SCIENCES: dict[str, Science] = {
    "mx": Science(
        ("MX",), PROTEINS[:7],
        ("Structural basis of {topic} in {system}",
         "Crystal structures of {system} with inhibitors",
         "Fragment screening against {system}", "High-resolution structures of {system}"),
        ("substrate recognition", "allosteric regulation", "antibiotic resistance",
         "membrane transport", "DNA repair", "ligand binding", "enzyme catalysis"),
        ("a bacterial efflux pump", "human kinase domains", "the SARS-CoV-2 main protease",
         "plant photoreceptors", "a thermophilic esterase", "class A beta-lactamases",
         "viral polymerases"),
        ("protein crystallography", "structural biology", "drug discovery", "enzyme", "ligand",
         "fragment screening", "membrane protein", "inhibitor", "automation"),
    ),
    "biosaxs": Science(
        ("MX", "LS"), PROTEINS[2:],
        ("Solution structure of {system} studied by SAXS",
         "Conformational changes of {system} upon {topic}",
         "Oligomerisation of {system} in solution"),
        ("ligand binding", "phosphorylation", "pH change", "metal binding", "complex formation",
         "unfolding"),
        ("intrinsically disordered proteins", "a multidomain chaperone", "RNA riboswitches",
         "antibody fragments", "bacterial toxins", "amyloid precursors"),
        ("SAXS", "solution scattering", "HPLC-SAXS", "flexibility", "oligomer",
         "intrinsically disordered", "protein complex", "structural biology"),
    ),
    "softmatter": Science(
        ("SC", "LS", "MA", "CH"),
        (("SDS micelles", "C12H25NaO4S", "sds"), ("colloidal silica", "SiO2", "silica"),
         ("PS-b-PMMA", "block copolymer", "bcp"), ("cellulose nanofibrils", "(C6H10O5)n", "cnf"),
         ("5CB liquid crystal", "C18H19N", "lc"), ("DOPC vesicles", "C44H84NO8P", "dopc")),
        ("Self-assembly of {system} under {topic}", "Kinetics of {topic} in {system}",
         "Nanoscale structure of {system} probed by SAXS and WAXS"),
        ("shear flow", "rapid mixing", "evaporation", "temperature jumps", "confinement",
         "ionic strength changes"),
        ("block copolymer films", "colloidal suspensions", "surfactant micelles",
         "lipid membranes", "cellulose nanocrystals", "liquid crystals"),
        ("soft matter", "self-assembly", "colloids", "SAXS", "WAXS", "kinetics", "XPCS",
         "interfaces", "polymers"),
    ),
    "imaging": Science(
        ("MD", "HG", "ES", "LS"),
        (("mouse brain", "tissue", "brain"), ("human lung", "tissue", "lung"),
         ("bone biopsy", "Ca5(PO4)3OH", "bone"), ("fossil embryo", "Ca5(PO4)3F", "fossil"),
         ("amber inclusion", "C10H16O", "amber"), ("basalt core", "(Mg,Fe)2SiO4", "basalt")),
        ("Phase-contrast tomography of {system}",
         "Three-dimensional imaging of {topic} in {system}",
         "Virtual histology of {system}"),
        ("vascular networks", "microfractures", "bone remodelling", "fossilised soft tissue",
         "root-soil interactions", "lesion progression"),
        ("human organs", "mouse models", "Cretaceous fossils", "amber-preserved insects",
         "archaeological bone", "porous rocks"),
        ("tomography", "phase contrast", "3D imaging", "virtual histology", "palaeontology",
         "biomedical imaging", "Human Organ Atlas", "non-destructive"),
    ),
    "microscopy": Science(
        ("EV", "HG", "ES", "LS"),
        (("lead white", "Pb3(CO3)2(OH)2", "pbwhite"), ("vermilion", "HgS", "vermilion"),
         ("ultramarine", "Na7Al6Si6O24S3", "ultra"), ("contaminated soil", "soil", "soil"),
         ("diatoms", "SiO2", "diatom"), ("leaf cross-section", "tissue", "leaf")),
        ("Speciation of {topic} in {system}", "X-ray fluorescence mapping of {system}",
         "Micro-XANES study of {topic} in {system}"),
        ("heavy metals", "pigment degradation", "trace elements", "sulfur oxidation states",
         "iron speciation", "nanoparticle uptake"),
        ("Renaissance paintings", "medieval manuscripts", "contaminated soils",
         "plant tissues", "marine sediments", "meteorites"),
        ("X-ray fluorescence", "XANES", "cultural heritage", "speciation", "environment",
         "micro-spectroscopy", "pigments", "trace elements"),
    ),
    "materials": Science(
        ("HC", "MA", "ES"),
        (("magnetite", "Fe3O4", "mag"), ("anatase", "TiO2", "tio"),
         ("lithium iron phosphate", "LiFePO4", "lfp"), ("NMC811", "LiNi0.8Mn0.1Co0.1O2", "nmc"),
         ("methylammonium lead iodide", "CH3NH3PbI3", "mapi"), ("barium titanate", "BaTiO3", "bto"),
         ("silicon", "Si", "si"), ("Ti-6Al-4V", "Ti90Al6V4", "tiv"),
         ("bridgmanite", "MgSiO3", "brg")),
        ("Strain and defects in {system} during {topic}",
         "In situ diffraction of {system} under {topic}",
         "Grain-resolved study of {topic} in {system}"),
        ("mechanical loading", "electrochemical cycling", "high pressure", "annealing",
         "phase transitions", "additive manufacturing"),
        ("battery cathodes", "perovskite thin films", "polycrystalline alloys",
         "ferroelectric nanostructures", "semiconductor nanowires", "mantle minerals"),
        ("diffraction", "3DXRD", "strain", "batteries", "high pressure", "phase transition",
         "nanostructures", "in situ", "operando"),
    ),
    "chemistry": Science(
        ("CH", "MA", "EV"),
        (("platinum on carbon", "Pt/C", "ptc"), ("copper chabazite", "Cu-SSZ-13", "cuzeo"),
         ("ZIF-8", "C8H10N4Zn", "zif"), ("HKUST-1", "C18H6Cu3O12", "hkust"),
         ("ceria", "CeO2", "ceria"), ("nickel hydroxide", "Ni(OH)2", "nioh")),
        ("Operando study of {topic} on {system}",
         "Time-resolved X-ray scattering of {topic} in {system}",
         "Structure of {system} during {topic}"),
        ("CO2 reduction", "methane oxidation", "gas adsorption", "crystallisation",
         "photo-excitation", "hydrogen evolution"),
        ("supported metal catalysts", "metal-organic frameworks", "zeolites",
         "electrocatalysts", "molecular photoswitches", "oxide surfaces"),
        ("catalysis", "operando", "MOF", "pair distribution function", "electrochemistry",
         "time-resolved", "surface diffraction", "energy materials"),
    ),
    "spectroscopy": Science(
        ("CH", "HC", "ES", "EV"),
        (("cobalt oxide", "Co3O4", "coox"), ("manganese dioxide", "MnO2", "mno"),
         ("heme model complex", "C34H32FeN4O4", "heme"),
         ("NiFe layered double hydroxide", "NiFe-LDH", "ldh"),
         ("uranium dioxide", "UO2", "uo"), ("lanthanum cuprate", "La2CuO4", "lco")),
        ("Electronic structure of {system} under {topic}",
         "Element-specific study of {topic} in {system}",
         "RIXS investigation of {topic} in {system}"),
        ("charge transfer", "spin transitions", "oxidation state changes", "magnetic ordering",
         "high pressure", "photo-excitation"),
        ("transition metal oxides", "spin-crossover complexes", "cuprate superconductors",
         "water-splitting catalysts", "actinide compounds", "magnetic thin films"),
        ("XAS", "XES", "RIXS", "electronic structure", "magnetism", "spin", "oxidation state",
         "XMCD"),
    ),
}  # fmt: skip


@dataclass(frozen=True)
class Beamline:
    name: str
    full_name: str
    type: str
    science: str
    techniques: tuple[str, ...]
    file_format: str
    detector: str

    @property
    def slug(self) -> str:
        """The beamline as it appears in paths and visit ids: ``id30a1``."""
        return self.name.lower().replace("-", "")


# name | type | science | techniques | file format and detector | full name
BEAMLINE_TABLE = """
ID30A-1 | MX           | mx           | mx          | HDF5 eiger    | MASSIF-1: automated MX
ID23-1  | MX           | mx           | mx ssx      | HDF5 eiger    | Tunable MX
ID23-2  | MX           | mx           | mx ssx      | CBF pilatus   | Microfocus MX
ID29    | MX           | mx           | ssx         | HDF5 jungfrau | Serial crystallography
BM16    | MX           | mx           | mx          | CBF pilatus   | FIP2: French beamline for proteins
BM29    | BioSAXS      | biosaxs      | saxs        | HDF5 pilatus  | BioSAXS: biological solution SAXS
ID02    | SAXS/WAXS    | softmatter   | saxs waxs   | HDF5 eiger    | Time-resolved ultra-SAXS
ID10    | SAXS/WAXS    | softmatter   | xpcs xrr    | HDF5 eiger    | Soft interfaces, coherent scattering
ID13    | SAXS/WAXS    | softmatter   | waxs saxs   | HDF5 eiger    | Microfocus beamline
ID19    | imaging      | imaging      | tomo        | EDF pco       | Microtomography
BM18    | imaging      | imaging      | tomo        | HDF5 pco      | Hierarchical phase-contrast tomography
ID16A   | imaging      | imaging      | tomo ptycho | EDF frelon    | Nano-imaging
ID21    | microscopy   | microscopy   | xrf xas     | HDF5 falconx  | X-ray microscopy
ID01    | diffraction  | materials    | cdi xrd     | HDF5 maxipix  | Nanodiffraction, coherent imaging
ID11    | diffraction  | materials    | xrd tomo    | HDF5 frelon   | Materials science
BM02    | diffraction  | materials    | xrd saxs    | EDF xpad      | D2AM: French CRG, anomalous diffraction
ID15A   | diffraction  | chemistry    | xrpd tomo   | HDF5 pilatus  | Chemistry and materials
ID31    | diffraction  | chemistry    | xrd xrr     | HDF5 pilatus  | High-energy surface diffraction
ID09    | scattering   | chemistry    | waxs xrd    | HDF5 rayonix  | Time-resolved scattering
ID24    | spectroscopy | spectroscopy | xas         | HDF5 xh       | Energy-dispersive XAS
ID26    | spectroscopy | spectroscopy | xes xas     | HDF5 falconx  | X-ray emission spectroscopy
ID32    | spectroscopy | spectroscopy | rixs xas    | HDF5 andor    | Soft X-ray spectroscopy (RIXS, XMCD)
"""  # noqa: E501 (a table reads better unwrapped)


def _beamlines(table: str) -> tuple[Beamline, ...]:
    beamlines = []
    for line in table.strip().splitlines():
        name, kind, science, techniques, files, full_name = (f.strip() for f in line.split("|"))
        file_format, detector = files.split()
        beamlines.append(
            Beamline(
                name, full_name, kind, science, tuple(techniques.split()), file_format, detector
            )
        )
    return tuple(beamlines)


BEAMLINES = _beamlines(BEAMLINE_TABLE)

FILE_FORMATS = (
    ("HDF5", "1.10", "application/x-hdf5", "HDF5 and NeXus files written by BLISS"),
    ("CBF", "1.4", "image/x-cbf", "Crystallographic Binary File, one image per file"),
    ("EDF", "1.0", "image/x-edf", "ESRF Data Format images"),
    ("TIFF", "6.0", "image/tiff", "Tagged Image File Format (reconstructed slices)"),
)
EXTENSIONS = {"HDF5": "h5", "CBF": "cbf", "EDF": "edf", "TIFF": "tif"}
INVESTIGATION_TYPES = (
    ("experiment", "Proposal-based user experiment, public after the embargo"),
    ("proprietary", "Industrial (proprietary) beam time, never released automatically"),
    ("inhouse", "In-house research by facility scientists"),
)


def _name_pools(text: str) -> tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]:
    """Lines of "given names | family names" (comma-separated; a name may hold spaces)."""
    pools = []
    for line in text.strip().splitlines():
        given, family = (tuple(n.strip() for n in part.split(",")) for part in line.split("|"))
        pools.append((given, family))
    return tuple(pools)


# Given and family names are drawn from the same line, so that names look like real ones.
NAME_POOLS = _name_pools("""
Amélie, Lucas, Camille, Julien, Claire, Hugo, Manon | Martin, Bernard, Dubois, Moreau, Girard, Roux
Chiara, Matteo, Giulia, Luca, Francesca, Marco | Rossi, Bianchi, Romano, Colombo, Moretti, Ferrari
Sofía, Javier, Lucía, Andrés, Valentina, Diego | García, Fernández, López, Martínez, Sánchez, Ruiz
João, Mateus, Ana, Rafael, Beatriz | Silva, Santos, Costa, Oliveira, Pereira
Lena, Jonas, Hannah, Felix, Clara, Lukas | Müller, Schmidt, Schneider, Fischer, Weber, Hoffmann
Sanne, Daan, Lotte, Pieter, Eva | Jansen, de Vries, van Dijk, Peeters, Janssens, Bakker
Katarzyna, Piotr, Agnieszka, Tomasz, Magdalena | Nowak, Wójcik, Mazur, Kaczmarek, Krawczyk
Ingrid, Lars, Mikael, Freya, Oskar, Björn | Andersen, Nielsen, Johansson, Lindqvist, Eriksen
Aino, Mikko, Elina, Juha | Virtanen, Korhonen, Mäkinen, Nieminen
Aoife, Seán, Grace, Thomas, Emily, James | O'Brien, Murphy, Walsh, Smith, Jones, Taylor
Eleni, Nikos, Dimitra, Giorgos | Papadopoulos, Georgiou, Nikolaidis, Christodoulou
Zeynep, Emre, Elif, Mehmet | Kaya, Demir, Öztürk, Çelik, Şahin
Yuki, Hiroshi, Haruka, Takumi | Tanaka, Suzuki, Sato, Watanabe, Yamamoto
Wei, Mei, Hui, Jun, Xiaoming | Wang, Li, Zhang, Chen, Liu, Zhao
Ji-woo, Min-jun, Seo-yeon, Hyun-woo | Kim, Park, Lee, Choi, Jung
Priya, Arjun, Ananya, Rohan, Kavya | Sharma, Patel, Iyer, Reddy, Nair
Fatima, Omar, Leila, Noor, Ahmed, Yusuf | Haddad, Mansour, Khan, Benali, Saleh
Reza, Maryam, Ali, Sara | Hosseini, Rahimi, Karimi, Moradi
Ioana, Andrei, Viktor, Nadia, Olga, Dmitri | Popescu, Ionescu, Nagy, Horvat, Ivanov
Kwame, Ama, Chidi, Sipho, Thandiwe, Amina | Mensah, Okafor, Adeyemi, Abebe, Dlamini
Noa, Yael, Eitan, Tamar | Cohen, Levi, Mizrahi, Friedman
Linh, Minh, Thu, Quang | Nguyen, Tran, Pham, Le
""")
# (affiliation, the made-up mail domain of its people; ``.example`` never delivers).
AFFILIATIONS = (
    ("Université Grenoble Alpes", "univ-grenoble-alpes"), ("University of Oxford", "ox"),
    ("ETH Zürich", "ethz"), ("Max Planck Institute for Biochemistry", "biochem-mpg"),
    ("Institut de Biologie Structurale", "ibs"), ("EMBL Grenoble", "embl"),
    ("University of Copenhagen", "ku"), ("Karolinska Institutet", "ki"),
    ("Sapienza University of Rome", "uniroma1"), ("Universidad Autónoma de Madrid", "uam"),
    ("Jagiellonian University", "uj"), ("Charles University", "cuni"), ("KU Leuven", "kuleuven"),
    ("Utrecht University", "uu"), ("University of Tokyo", "u-tokyo"),
    ("Indian Institute of Science", "iisc"), ("University of São Paulo", "usp"),
    ("Trinity College Dublin", "tcd"), ("Paul Scherrer Institute", "psi"),
    ("Helmholtz-Zentrum Berlin", "helmholtz-berlin"), ("University of Cape Town", "uct"),
    ("Technical University of Denmark", "dtu"), ("University of Helsinki", "helsinki"),
    ("Sorbonne Université", "sorbonne-universite"), ("Politecnico di Milano", "polimi"),
    ("Weizmann Institute of Science", "weizmann"), ("Boğaziçi University", "boun"),
    ("Seoul National University", "snu"), ("University of Manchester", "manchester"),
    ("Institut Laue-Langevin", "ill"), ("Lund University", "lu"),
    ("University of Vienna", "univie"),
)  # fmt: skip
STAFF_AFFILIATION = ("ESRF - The European Synchrotron", "esrf")

# (login, given name, family name); what each is for is in the module docstring.
FIXED_USERS = (
    ("staff1", "Claire", "Dubreuil"),
    ("scientist1", "Marco", "Ferraresi"),
    ("pi1", "Anna", "Kowalczyk"),
    ("member1", "Jonas", "Lindberg"),
    ("outsider1", "Priya", "Raman"),
)

SUMMARY_OPENINGS = (
    "This proposal addresses {topic} in {system}.",
    "Understanding {topic} in {system} remains an open question.",
    "We study {system}, a model system for {topic}.",
)
SUMMARY_METHODS = (
    "We will use {technique} on {beamline} to measure a series of samples.",
    "Measurements combine {technique} with the in situ sample environments of {beamline}.",
    "The experiment relies on {technique}, as established in our previous beam time.",
)
SUMMARY_OUTCOMES = (
    "The results will be compared with simulations and published in an open-access journal.",
    "The data will complement laboratory measurements made at the home institute.",
    "These experiments continue work started during a previous allocation.",
    "The outcome will guide the design of the next generation of samples.",
)

PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")


# --------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------


class CatalogueNotEmpty(RuntimeError):
    """The demo would be written over sessions that are there already."""


def default_anchor() -> datetime:
    """Today at 00:00 UTC, as a naive datetime (the catalogue's "now")."""
    return datetime.now(UTC).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)


async def seed_demo(
    settings: Settings,
    *,
    seed: int = 1,
    size: DemoSize,
    reset: bool = False,
    anchor: datetime | None = None,
    progress: Callable[[int], object] | None = None,
) -> dict[str, int]:
    """Create the schema and the demo catalogue; the number of rows of each kind made.

    Refuses (:class:`CatalogueNotEmpty`) if the catalogue already has sessions, unless
    ``reset`` drops every table first. ``progress`` is called with 1 after each session.
    """
    engine = create_engine(settings)
    try:
        if reset:
            await drop_schema(engine)
        await create_schema(engine, embedded=True)
        async with engine.connect() as connection:
            if await _has_sessions(connection):
                url = make_url(settings.database_url).render_as_string(hide_password=True)
                raise CatalogueNotEmpty(
                    f"the catalogue at {url} already has sessions; "
                    "reset it to replace them (icat-gateway demo --reset)"
                )
            builder = _Builder(connection, settings, seed, size, _naive(anchor), progress)
            counts = await builder.build()
        await refresh(engine, naive_utc_now(), full=True)
        return counts
    finally:
        await engine.dispose()


async def seed_if_empty(
    settings: Settings, size: DemoSize, progress: Callable[[int], object] | None = None
) -> dict[str, int] | None:
    """Create the schema, and the demo catalogue if there are no sessions yet: the rows
    made, or None when the catalogue had sessions already."""
    engine = create_engine(settings)
    try:
        await create_schema(engine, embedded=True)
        async with engine.connect() as connection:
            if await _has_sessions(connection):
                return None
            builder = _Builder(connection, settings, 1, size, default_anchor(), progress)
            counts = await builder.build()
        await refresh(engine, naive_utc_now(), full=True)
        return counts
    finally:
        await engine.dispose()


def _naive(anchor: datetime | None) -> datetime:
    if anchor is None:
        return default_anchor()
    if anchor.tzinfo is not None:
        anchor = anchor.astimezone(UTC).replace(tzinfo=None)
    return anchor.replace(microsecond=0)


async def _has_sessions(connection: AsyncConnection) -> bool:
    found = await connection.scalar(select(Investigation.id).limit(1))
    await connection.commit()
    return found is not None


# --------------------------------------------------------------------------------------
# Writing rows in batches
# --------------------------------------------------------------------------------------


def _table(model: type[IcatBase]) -> Table:
    return IcatBase.metadata.tables[model.__tablename__]


class _Writer:
    """Buffers rows per table and writes them all, parents first, when a buffer is full.

    Rows are given by attribute name (``file_size=``) and written by column key; every
    row of a table carries every column, as ``executemany`` needs.
    """

    def __init__(self, connection: AsyncConnection, first_id: int) -> None:
        self.connection = connection
        self.next_id = first_id
        self.counts: dict[type[IcatBase], int] = {}
        self._buffers: dict[Table, list[dict[str, Any]]] = {}
        self._keys: dict[type[IcatBase], dict[str, str]] = {}
        self._blank: dict[type[IcatBase], dict[str, Any]] = {}
        self._order = {table: n for n, table in enumerate(IcatBase.metadata.sorted_tables)}

    def new_id(self) -> int:
        allocated = self.next_id
        self.next_id += 1
        return allocated

    def add(self, model: type[IcatBase], when: datetime, **values: Any) -> int:
        """Buffer one row (its id allocated unless given); the row's id."""
        keys = self._keys.get(model)
        if keys is None:
            keys = {prop.key: prop.columns[0].key for prop in inspect(model).column_attrs}
            self._keys[model] = keys
            self._blank[model] = dict.fromkeys(keys.values())
            self._buffers.setdefault(_table(model), [])
        row = self._blank[model].copy()
        row_id = values.pop("id", None) or self.new_id()
        row[keys["id"]] = row_id
        row[keys["create_id"]] = row[keys["mod_id"]] = CREATOR
        row[keys["create_time"]] = row[keys["mod_time"]] = when
        for attribute, value in values.items():
            row[keys[attribute]] = value
        self._buffers[_table(model)].append(row)
        self.counts[model] = self.counts.get(model, 0) + 1
        return int(row_id)

    async def flush_if_full(self) -> None:
        if any(len(rows) >= BATCH_ROWS for rows in self._buffers.values()):
            await self.flush()

    async def flush(self) -> None:
        """Write everything buffered, parents before children, and commit."""
        for table in sorted(self._buffers, key=self._order.__getitem__):
            rows = self._buffers[table]
            if rows:
                await self.connection.execute(insert(table), rows)
                self._buffers[table] = []
        await self.connection.commit()


async def _first_free_id(connection: AsyncConnection) -> int:
    """One past every id in use and past SEQ_GEN (so existing rows are never hit)."""
    highest = int(
        await connection.scalar(select(Sequence.seq_count).where(Sequence.seq_name == SEQ_GEN)) or 0
    )
    for table in IcatBase.metadata.sorted_tables:
        if "ID" in table.c:
            highest = max(highest, int(await connection.scalar(select(func.max(table.c.ID))) or 0))
    return highest + 1


async def _store_sequence(connection: AsyncConnection, next_free: int) -> int:
    """Set SEQ_GEN to the next free id rounded up to the allocation size."""
    count = math.ceil(next_free / ALLOCATION_SIZE) * ALLOCATION_SIZE
    table = _table(Sequence)
    await connection.execute(delete(table).where(table.c.SEQ_NAME == SEQ_GEN))
    await connection.execute(insert(table).values(SEQ_NAME=SEQ_GEN, SEQ_COUNT=Decimal(count)))
    await connection.commit()
    return count


# --------------------------------------------------------------------------------------
# Parameters from the ESRF metadata definitions
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParameterDefinition:
    name: str
    units: str
    value_type: int
    integer: bool
    description: str | None


def esrf_parameter_definitions() -> list[ParameterDefinition]:
    """Every parameter of ``icat_esrf_definitions``, first occurrence of (name, units) kept."""
    root = ElementTree.parse(DEFINITIONS_FILE).getroot()
    seen: set[tuple[str, str]] = set()
    definitions = []
    for element in root.iter():
        match = PLACEHOLDER.fullmatch((element.text or "").strip())
        if match is None:
            continue
        name = match.group(1)
        # ICAT's UNITS is NOT NULL; the ESRF catalogue writes "NA" for unitless parameters.
        units = element.get("units") or "NA"
        if (name, units) in seen:
            continue
        seen.add((name, units))
        napi = element.get("NAPItype", "NX_CHAR")
        if napi in ("NX_NUMBER", "NX_FLOAT", "NX_INT"):
            value_type = ParameterValueType.NUMERIC
        elif napi == "NX_DATE_TIME":
            value_type = ParameterValueType.DATE_AND_TIME
        else:
            value_type = ParameterValueType.STRING
        description = element.get("ESRF_description") or None
        if description and len(description) > 255:
            description = description[:254].rsplit(" ", 1)[0] + "…"
        definitions.append(
            ParameterDefinition(
                name,
                units,
                int(value_type),
                napi == "NX_INT" or name in INTEGER_PARAMETERS,
                description,
            )
        )
    return definitions


@dataclass(frozen=True)
class _Sampler:
    """Draws plausible values of one parameter type."""

    type_id: int
    definition: ParameterDefinition
    low: float
    high: float
    choices: tuple[str | float, ...] = ()

    def value(
        self, rng: random.Random, energy: float, moment: datetime
    ) -> tuple[str | None, float | None, datetime | None]:
        """(string, numeric, datetime) values, only the one of the type set."""
        definition = self.definition
        if definition.value_type == ParameterValueType.DATE_AND_TIME:
            return None, None, moment
        number: float
        if self.choices:
            choice = rng.choice(self.choices)
            if isinstance(choice, str):
                return choice, None, None
            number = choice
        elif definition.name in ENERGY_PARAMETERS:
            number = energy
        elif definition.name in WAVELENGTH_PARAMETERS:
            number = 12.39842 / energy
        elif self.low > 0 and self.high / self.low >= 100:
            number = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        else:
            number = rng.uniform(self.low, self.high)
        number = float(round(number)) if definition.integer else float(f"{number:.5g}")
        if definition.value_type == ParameterValueType.STRING:
            return (str(int(number)) if definition.integer else str(number)), None, None
        return None, number, None


def _sampler(
    type_id: int, definition: ParameterDefinition, ranges: dict[str, tuple[float, float]]
) -> _Sampler:
    name = definition.name
    low, high = (
        ranges.get(name)
        or PARAMETER_RANGES.get(name)
        or UNIT_RANGES.get(definition.units, (0.0, 1000.0))
    )
    choices = VALUE_CHOICES.get(name, ())
    if (
        not choices
        and definition.value_type == ParameterValueType.STRING
        and (name not in ranges and name not in PARAMETER_RANGES)
    ):
        choices = tuple(f"{name.rsplit('_', 1)[-1]}-{n}" for n in range(1, 6))
    return _Sampler(type_id, definition, low, high, choices)


# --------------------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Person:
    """What a data publication copies of a user."""

    given_name: str
    family_name: str
    full_name: str
    email: str
    affiliation: str


@dataclass(eq=False)
class _Proposal:
    name: str
    kind: str
    beamline: Beamline
    title: str
    summary: str
    keywords: list[str]
    pi: int
    co_proposers: list[int]
    people: list[int]
    visits_left: int
    last_start: datetime


@dataclass(eq=False)
class _SessionRecord:
    """What the data publications need to know of a session."""

    id: int
    proposal: str
    beamline: str
    title: str
    keywords: list[str]
    start: datetime
    end: datetime
    authors: list[int]
    dataset_ids: list[int]


@dataclass(frozen=True)
class _Forced:
    """One of pi1's sessions: beamline, kind, days from the anchor to its start."""

    beamline: str
    kind: str
    start_days: int
    with_member: bool
    proposal: int


PI1_SESSIONS = (
    _Forced("ID23-1", "experiment", -1900, True, 0),
    _Forced("ID30A-1", "experiment", -240, True, 1),
    _Forced("ID11", "proprietary", -700, False, 2),
    _Forced("BM29", "experiment", -500, True, 3),
    _Forced("ID30A-1", "experiment", 40, False, 1),
)


class _Builder:
    """Generates the catalogue in id order, one session (and all it holds) at a time."""

    def __init__(
        self,
        connection: AsyncConnection,
        settings: Settings,
        seed: int,
        size: DemoSize,
        anchor: datetime,
        progress: Callable[[int], object] | None = None,
    ) -> None:
        self.connection = connection
        self.progress = progress or (lambda _sessions: None)
        self.facility_name = settings.facility
        self.rng = random.Random(seed)
        self.size = size
        self.anchor = anchor
        self.origin = anchor - HISTORY
        self.writer: _Writer
        self.people: dict[int, _Person] = {}
        self.logins: set[str] = set()
        self.visitors: list[int] = []
        self.fixed: dict[str, int] = {}
        self.local_contacts: dict[str, list[int]] = {}
        self.beamline_ids: dict[str, int] = {}
        self.technique_ids: dict[str, int] = {}
        self.samplers: dict[str, list[_Sampler]] = {}
        self.generic_samplers: list[_Sampler] = []
        self.sample_samplers: list[_Sampler] = []
        self.sample_type_ids: dict[tuple[str, str], int] = {}
        self.counters: dict[str, int] = {}
        self.records: list[_SessionRecord] = []
        self.proposal_count = 0
        self.big_files_pending = size.big_dataset_files > 0

    async def build(self) -> dict[str, int]:
        self.writer = _Writer(self.connection, await _first_free_id(self.connection))
        self._reference_data()
        self._users()
        await self.writer.flush()
        await self._sessions()
        self._publications()
        await self.writer.flush()
        await _store_sequence(self.connection, self.writer.next_id)
        return self._counts()

    def _counts(self) -> dict[str, int]:
        kinds: tuple[tuple[str, type[IcatBase]], ...] = (
            ("sessions", Investigation), ("datasets", Dataset), ("datafiles", Datafile),
            ("users", User), ("instruments", Instrument),
            ("instrument scientists", InstrumentScientist), ("techniques", Technique),
            ("parameter types", ParameterType), ("sample types", SampleType),
            ("team roles", InvestigationUser), ("dataset instruments", DatasetInstrument),
            ("keywords", Keyword), ("samples", Sample), ("sample parameters", SampleParameter),
            ("dataset parameters", DatasetParameter), ("dataset techniques", DatasetTechnique),
            ("data publications", DataPublication), ("data collections", DataCollection),
        )  # fmt: skip
        counts = {kind: self.writer.counts.get(model, 0) for kind, model in kinds}
        counts["proposals"] = self.proposal_count
        return counts

    # Reference data ---------------------------------------------------------------------

    def _reference_data(self) -> None:
        add, when = self.writer.add, self.origin - timedelta(days=60)
        is_esrf = self.facility_name == "ESRF"
        self.facility_id = add(
            Facility, when, name=self.facility_name,
            full_name="European Synchrotron Radiation Facility" if is_esrf else None,
            description="A fourth-generation synchrotron light source in Grenoble (demo catalogue)",
            url="https://www.esrf.fr" if is_esrf else None, days_until_release=EMBARGO.days,
        )  # fmt: skip
        facility = self.facility_id
        self.investigation_type_ids = {
            name: add(InvestigationType, when, facility_id=facility, name=name, description=text)
            for name, text in INVESTIGATION_TYPES
        }
        self.dataset_type_ids = {
            name: add(DatasetType, when, facility_id=facility, name=name, description=text)
            for name, text in (("acquisition", "Raw data"), ("processed", "Processed data"))
        }
        self.format_ids = {
            name: add(DatafileFormat, when, facility_id=facility, name=name, version=version,
                      type=mime, description=text)
            for name, version, mime, text in FILE_FORMATS
        }  # fmt: skip
        self.publication_type_id = add(
            DataPublicationType,
            when,
            facility_id=facility,
            name="Dataset collection",
            description="A selection of datasets from one or more sessions",
        )
        for spec in TECHNIQUES:
            self.technique_ids[spec.key] = add(
                Technique, when, name=spec.name,
                pid=f"http://purl.org/pan-science/PaNET/PaNET{spec.panet}",
                description=f"{spec.name[0].upper()}{spec.name[1:]}",
            )  # fmt: skip
        for beamline in BEAMLINES:
            self.beamline_ids[beamline.name] = add(
                Instrument, when, facility_id=facility, name=beamline.name,
                full_name=beamline.full_name, type=beamline.type,
                description=f"{beamline.name}: {beamline.full_name}",
                url=f"https://www.esrf.fr/beamlines/{beamline.name.lower()}",
            )  # fmt: skip
        types: dict[str, tuple[int, ParameterDefinition]] = {}
        for definition in esrf_parameter_definitions():
            type_id = add(
                ParameterType, when, facility_id=facility, name=definition.name,
                units=definition.units, units_full_name=UNIT_NAMES.get(definition.units),
                value_type=definition.value_type, description=definition.description,
                enforced=False, verified=False, applicable_to_dataset=True,
                applicable_to_sample=definition.name.startswith("Sample"),
                applicable_to_datafile=False, applicable_to_investigation=False,
                applicable_to_data_collection=False,
            )  # fmt: skip
            types.setdefault(definition.name, (type_id, definition))

        def samplers(
            names: SequenceOf[str], ranges: dict[str, tuple[float, float]]
        ) -> list[_Sampler]:
            return [_sampler(*types[name], ranges) for name in names if name in types]

        for spec in TECHNIQUES:
            self.samplers[spec.key] = samplers(spec.parameters, spec.ranges)
        self.generic_samplers = samplers(GENERIC_PARAMETERS, {})
        self.sample_samplers = samplers(SAMPLE_PARAMETERS, {})
        self.techniques = {spec.key: spec for spec in TECHNIQUES}
        for science in SCIENCES.values():
            for name, formula, _stem in science.samples:
                if (name, formula) not in self.sample_type_ids:
                    self.sample_type_ids[name, formula] = add(
                        SampleType, when, facility_id=facility, name=name,
                        molecular_formula=formula,
                    )  # fmt: skip

    # People -----------------------------------------------------------------------------

    def _person(self, login: str, given: str, family: str, *, staff: bool) -> int:
        rng = self.rng
        affiliation, domain = STAFF_AFFILIATION if staff else rng.choice(AFFILIATIONS)
        orcid = _orcid(rng) if rng.random() < 0.4 else None
        email = f"{_ascii(given)}.{_ascii(family)}@{domain}.example"
        person_id = self.writer.add(
            User, self.origin - timedelta(days=30), name=f"{AUTHENTICATOR}/{login}",
            full_name=f"{given} {family}", given_name=given, family_name=family, email=email,
            orcid_id=orcid, affiliation=affiliation,
        )  # fmt: skip
        self.people[person_id] = _Person(given, family, f"{given} {family}", email, affiliation)
        self.logins.add(login)
        return person_id

    def _new_person(self, *, staff: bool) -> int:
        given_names, family_names = self.rng.choice(NAME_POOLS)
        given, family = self.rng.choice(given_names), self.rng.choice(family_names)
        base = (_ascii(given)[:1] + _ascii(family)) or "user"
        login, n = base, 1
        while login in self.logins:
            n += 1
            login = f"{base}{n}"
        return self._person(login, given, family, staff=staff)

    def _users(self) -> None:
        for login, given, family in FIXED_USERS:
            staff = login in ("staff1", "scientist1")
            self.fixed[login] = self._person(login, given, family, staff=staff)
        when = self.origin - timedelta(days=30)
        for beamline in BEAMLINES:
            scientists = [self._new_person(staff=True) for _ in range(self.rng.randint(2, 3))]
            if beamline.name == "ID30A-1":
                # The fixed staff1 and scientist1 are two of its scientists, never on a team.
                scientists = [self.fixed["staff1"], self.fixed["scientist1"], scientists[0]]
            for scientist in scientists:
                self.writer.add(
                    InstrumentScientist, when, user_id=scientist,
                    instrument_id=self.beamline_ids[beamline.name],
                )  # fmt: skip
            fixed = {self.fixed["staff1"], self.fixed["scientist1"]}
            self.local_contacts[beamline.name] = [s for s in scientists if s not in fixed]
        visitors = max(60, math.ceil(self.size.sessions / 3))
        self.visitors = [self._new_person(staff=False) for _ in range(visitors)]

    # Sessions ---------------------------------------------------------------------------

    def _proposal_name(self, kind: str, beamline: Beamline) -> str:
        category = self.rng.choice(SCIENCES[beamline.science].categories)
        prefix = {"experiment": category, "inhouse": f"IH-{category}", "proprietary": "IN"}[kind]
        start = 100 if kind == "inhouse" else 1000
        number = self.counters.get(prefix, start + self.rng.randrange(start))
        self.counters[prefix] = number + self.rng.randint(1, 3)
        return f"{prefix}-{number}"

    def _new_proposal(
        self, start: datetime, *, beamline: Beamline | None = None, kind: str | None = None
    ) -> _Proposal:
        rng = self.rng
        self.proposal_count += 1
        if beamline is None:
            beamline = rng.choice(BEAMLINES)
        if kind is None:
            draw = rng.random()
            kind = "proprietary" if draw < 0.07 else "inhouse" if draw < 0.14 else "experiment"
        science = SCIENCES[beamline.science]
        words = {"topic": rng.choice(science.topics), "system": rng.choice(science.systems)}
        title = rng.choice(science.titles).format(**words)
        technique = self.techniques[beamline.techniques[0]].name
        summary = " ".join((
            rng.choice(SUMMARY_OPENINGS).format(**words),
            rng.choice(SUMMARY_METHODS).format(technique=technique, beamline=beamline.name),
            rng.choice(SUMMARY_OUTCOMES),
        ))  # fmt: skip
        co_count, extra_count = rng.randint(0, 2), rng.randint(1, 4)
        team = rng.sample(self.visitors, 1 + co_count + extra_count)
        return _Proposal(
            name=self._proposal_name(kind, beamline), kind=kind, beamline=beamline,
            title=title[0].upper() + title[1:], summary=summary,
            keywords=rng.sample(science.keywords, rng.randint(3, 5)),
            pi=team[0], co_proposers=team[1 : 1 + co_count], people=team[1:],
            visits_left=rng.choice((1, 1, 2, 2, 3, 4)), last_start=start,
        )  # fmt: skip

    async def _sessions(self) -> None:
        rng, size = self.rng, self.size
        forced = PI1_SESSIONS[: size.sessions]
        pi1_proposals: dict[int, _Proposal] = {}
        for spec in forced:
            start = self.anchor + timedelta(days=spec.start_days) + timedelta(hours=8)
            beamline = next(b for b in BEAMLINES if b.name == spec.beamline)
            proposal = pi1_proposals.get(spec.proposal)
            if proposal is None:
                proposal = self._new_proposal(start, beamline=beamline, kind=spec.kind)
                proposal.pi = self.fixed["pi1"]
                proposal.co_proposers = proposal.co_proposers[:1]
                pi1_proposals[spec.proposal] = proposal
            members = [self.fixed["member1"]] if spec.with_member else []
            self._session(proposal, [beamline], start, members=members, record=True)
            self.progress(1)
            await self.writer.flush_if_full()
        regular = size.sessions - len(forced)
        span = (HISTORY + SCHEDULED_AHEAD).total_seconds()
        record_chance = min(1.0, 4 * self._publication_count() / max(regular, 1))
        open_proposals: list[_Proposal] = []
        for index in range(regular):
            # Stratified start times: chronological ids, a few sessions after the anchor.
            offset = (index + rng.random()) * span / regular
            start = (self.origin + timedelta(seconds=int(offset))).replace(minute=0, second=0)
            start = start.replace(hour=8) if start.hour < 12 else start.replace(hour=20)
            followers = [p for p in open_proposals if start - p.last_start >= timedelta(days=14)]
            if followers and rng.random() < 0.55:
                proposal = rng.choice(followers)
            else:
                proposal = self._new_proposal(start)
                open_proposals.append(proposal)
                if len(open_proposals) > 60:
                    open_proposals.pop(0)
            proposal.visits_left -= 1
            proposal.last_start = start
            if proposal.visits_left <= 0 and proposal in open_proposals:
                open_proposals.remove(proposal)
            beamlines = [proposal.beamline]
            if rng.random() < 0.03:
                others = [
                    b
                    for b in BEAMLINES
                    if b.science == proposal.beamline.science and b is not proposal.beamline
                ]
                if others:
                    beamlines.append(rng.choice(others))
            self._session(proposal, beamlines, start, record=rng.random() < record_chance)
            self.progress(1)
            await self.writer.flush_if_full()

    def _session(
        self,
        proposal: _Proposal,
        beamlines: list[Beamline],
        start: datetime,
        *,
        members: SequenceOf[int] = (),
        record: bool,
    ) -> None:
        rng, add, size = self.rng, self.writer.add, self.size
        end = start + timedelta(days=rng.choice((1, 1, 2, 2, 3, 4, 5, 6)))
        release = None if proposal.kind == "proprietary" else end + EMBARGO
        released = release is not None and release < self.anchor
        session_id = self.writer.new_id()
        beamline = beamlines[0]
        visit_id = f"{beamline.slug}-{start:%Y%m%d}"
        created = start - timedelta(days=60)
        science = SCIENCES[beamline.science]
        rows: list[tuple[type[IcatBase], datetime, dict[str, Any]]] = []

        def child(model: type[IcatBase], when: datetime, **values: Any) -> int:
            if "id" not in values:
                values["id"] = self.writer.new_id()
            rows.append((model, when, values))
            return int(values["id"])

        for other in beamlines:
            child(InvestigationInstrument, created, investigation_id=session_id,
                  instrument_id=self.beamline_ids[other.name])  # fmt: skip
        self._team(proposal, beamline, session_id, end, created, members, child)
        for keyword in proposal.keywords:
            child(Keyword, created, investigation_id=session_id, name=keyword)
        samples = []
        for n, (name, formula, stem) in enumerate(
            rng.choice(science.samples) for _ in range(rng.randint(1, 4))
        ):
            sample_name = f"{stem}{n + 1}"
            sample_id = child(Sample, created, investigation_id=session_id, name=sample_name,
                              type_id=self.sample_type_ids[name, formula])  # fmt: skip
            samples.append((sample_id, sample_name))
            if self.sample_samplers and rng.random() < 0.35:
                picks = min(len(self.sample_samplers), rng.randint(1, 2))
                for sampler in rng.sample(self.sample_samplers, picks):
                    text, number, moment = sampler.value(rng, 12.0, start)
                    child(SampleParameter, created, sample_id=sample_id,
                          parameter_type_id=sampler.type_id, string_value=text,
                          numeric_value=number, datetime_value=moment)  # fmt: skip
        root = "/data/inhouse" if proposal.kind == "inhouse" else "/data/visitor"
        proposal_slug = proposal.name.lower().replace("-", "")
        folder = f"{root}/{proposal_slug}/{beamline.slug}/{start:%Y%m%d}"
        total_size = total_count = 0
        dataset_ids: list[int] = []
        per_sample: dict[int, int] = {}
        count = size.datasets_per_session
        slot = (end - start).total_seconds() / count
        for n in range(count):
            sample_id, sample_name = samples[n * len(samples) // count]
            per_sample[sample_id] = per_sample.get(sample_id, 0) + 1
            name = f"{sample_name}_{per_sample[sample_id]:04d}"
            processed = n > 0 and rng.random() < 0.15
            data_start = start + timedelta(seconds=int((n + 0.7 * rng.random()) * slot))
            data_end = data_start + timedelta(seconds=int(slot * (0.05 + 0.2 * rng.random())))
            location = (
                f"{folder}/{'PROCESSED_DATA' if processed else 'RAW_DATA'}/{sample_name}/{name}"
            )
            on = beamlines[-1] if n >= count - count // 2 and len(beamlines) > 1 else beamline
            files = size.files_per_dataset
            if n == 0 and released and self.big_files_pending:
                files += size.big_dataset_files
                self.big_files_pending = False
            dataset_id = self.writer.new_id()
            file_rows, file_size = self._datafiles(dataset_id, name, location, on, files,
                                                   data_start, data_end)  # fmt: skip
            child(Dataset, data_end, id=dataset_id, investigation_id=session_id,
                  type_id=self.dataset_type_ids["processed" if processed else "acquisition"],
                  sample_id=sample_id, name=name, location=location, complete=True,
                  start_date=data_start, end_date=data_end, file_size=file_size,
                  file_count=files)  # fmt: skip
            rows.extend(file_rows)
            total_size += file_size
            total_count += files
            if not processed:
                dataset_ids.append(dataset_id)
            self._dataset_details(dataset_id, on, data_start, child)
        add(Investigation, created, id=session_id, facility_id=self.facility_id,
            type_id=self.investigation_type_ids[proposal.kind], name=proposal.name,
            visit_id=visit_id, title=proposal.title, summary=proposal.summary,
            doi=f"{DOI_PREFIX}/{self.facility_name}-ES-{session_id}", start_date=start,
            end_date=end, release_date=release, file_size=total_size,
            file_count=total_count)  # fmt: skip
        for model, when, values in rows:
            add(model, when, **values)
        if record:
            authors = [proposal.pi, *members, *proposal.co_proposers]
            self.records.append(_SessionRecord(
                session_id, proposal.name, beamline.name, proposal.title, proposal.keywords,
                start, end, list(dict.fromkeys(authors)),
                dataset_ids[:4],
            ))  # fmt: skip

    def _team(
        self,
        proposal: _Proposal,
        beamline: Beamline,
        session_id: int,
        end: datetime,
        created: datetime,
        members: SequenceOf[int],
        child: Callable[..., int],
    ) -> None:
        rng = self.rng

        def role(user_id: int, name: str) -> None:
            child(InvestigationUser, created, user_id=user_id, investigation_id=session_id,
                  role=name)  # fmt: skip

        role(proposal.pi, "Principal investigator")
        for user_id in proposal.co_proposers:
            role(user_id, "Co-proposer")
        participants = [proposal.pi] if rng.random() < 0.6 else []
        participants += [m for m in members if m not in participants]
        room = max(1, 4 - len(participants))
        pool = [p for p in proposal.people if p not in participants]
        participants += rng.sample(pool, min(len(pool), rng.randint(1, room)))
        for user_id in participants:
            role(user_id, "Participant")
        contacts = self.local_contacts[beamline.name]
        role(rng.choice(contacts), "Local contact")
        if end < self.anchor - EMBARGO and rng.random() < 0.2:
            team = {proposal.pi, *proposal.co_proposers, *participants}
            collaborator = rng.choice(self.visitors)
            if collaborator not in team:
                role(collaborator, "Collaborator")

    def _datafiles(
        self,
        dataset_id: int,
        dataset_name: str,
        location: str,
        beamline: Beamline,
        count: int,
        start: datetime,
        end: datetime,
    ) -> tuple[list[tuple[type[IcatBase], datetime, dict[str, Any]]], int]:
        rng, new_id = self.rng, self.writer.new_id
        file_format = beamline.file_format
        extension = EXTENSIONS[file_format]
        format_id = self.format_ids[file_format]
        seconds = max(1, int((end - start).total_seconds()))
        rows: list[tuple[type[IcatBase], datetime, dict[str, Any]]] = []
        total = 0
        for n in range(count):
            if file_format == "HDF5":
                name = f"{dataset_name}.h5" if n == 0 else f"{beamline.detector}_{n - 1:04d}.h5"
            else:
                name = f"{dataset_name}_{n:04d}.{extension}"
            # Log-normal around 50 MB, kept between 1 kB and 20 GB.
            size = min(max(int(rng.lognormvariate(17.7, 2.2)), 1024), 20 * 1024**3)
            created = start + timedelta(seconds=int(seconds * n / max(count, 1)))
            rows.append((Datafile, created, {
                "id": new_id(), "dataset_id": dataset_id, "datafile_format_id": format_id,
                "name": name, "location": f"{location}/{name}", "file_size": size,
                "checksum": f"{rng.getrandbits(32):08x}", "datafile_create_time": created,
                "datafile_mod_time": created,
            }))  # fmt: skip
            total += size
        return rows, total

    def _dataset_details(
        self,
        dataset_id: int,
        beamline: Beamline,
        start: datetime,
        child: Callable[..., int],
    ) -> None:
        rng = self.rng
        keys = [beamline.techniques[0]]
        if len(beamline.techniques) > 1 and rng.random() < 0.3:
            keys.append(beamline.techniques[1])
        child(DatasetInstrument, start, dataset_id=dataset_id,
              instrument_id=self.beamline_ids[beamline.name])  # fmt: skip
        for key in keys:
            child(DatasetTechnique, start, dataset_id=dataset_id,
                  technique_id=self.technique_ids[key])  # fmt: skip
        technique = self.techniques[keys[0]]
        energy = rng.uniform(*technique.energy)
        candidates = list(self.samplers[technique.key])
        chosen_types = {s.type_id for s in candidates}
        candidates += [s for s in self.generic_samplers if s.type_id not in chosen_types]
        for sampler in rng.sample(candidates, min(len(candidates), rng.randint(4, 10))):
            text, number, moment = sampler.value(rng, energy, start)
            child(DatasetParameter, start, dataset_id=dataset_id,
                  parameter_type_id=sampler.type_id, string_value=text, numeric_value=number,
                  datetime_value=moment)  # fmt: skip

    # Data publications ------------------------------------------------------------------

    def _publication_count(self) -> int:
        return min(200, max(3, self.size.sessions // 40))

    def _publications(self) -> None:
        rng = self.rng
        forced = self.records[: len(PI1_SESSIONS)]
        number = 0
        if len(forced) >= 2:
            released, embargoed = forced[0], forced[1]
            number += 1
            self._publication(
                number,
                [(embargoed, embargoed.dataset_ids[:2]), (released, released.dataset_ids[:1])],
                embargoed.end + timedelta(days=21), [self.fixed["pi1"], self.fixed["member1"]],
            )  # fmt: skip
        if len(forced) >= 4:
            draft = forced[3]
            number += 1
            self._publication(number, [(draft, draft.dataset_ids[:3])], None,
                              [self.fixed["pi1"], self.fixed["member1"]])  # fmt: skip
        candidates = [
            r for r in self.records[len(PI1_SESSIONS):]
            if r.dataset_ids and r.end < self.anchor - timedelta(days=30)
        ]  # fmt: skip
        if not candidates:
            return
        for _ in range(self._publication_count()):
            first = rng.choice(candidates)
            picks = [(first, rng.sample(first.dataset_ids, rng.randint(1, len(first.dataset_ids))))]
            if rng.random() < 0.25:
                same = [c for c in candidates if c.proposal == first.proposal and c is not first]
                second = rng.choice(same or candidates)
                if second is not first:
                    picks.append((second, second.dataset_ids[:1]))
            published: datetime | None = None
            if rng.random() < 0.8:
                latest = max(record.end for record, _ in picks)
                room = max(1, (self.anchor - latest).days - 1)
                published = latest + timedelta(days=rng.randint(1, min(room, 700)))
            authors = list(dict.fromkeys(a for record, _ in picks for a in record.authors))
            number += 1
            self._publication(number, picks, published, authors[:5])

    def _publication(
        self,
        number: int,
        picks: list[tuple[_SessionRecord, list[int]]],
        published: datetime | None,
        authors: list[int],
    ) -> None:
        rng, add = self.rng, self.writer.add
        picks = [(record, ids) for record, ids in picks if ids]
        if not picks:
            return
        first = picks[0][0]
        created = published or self.anchor - timedelta(days=rng.randint(2, 60))
        collection = add(DataCollection, created)
        for _record, dataset_ids in picks:
            for dataset_id in dataset_ids:
                add(DataCollectionDataset, created, data_collection_id=collection,
                    dataset_id=dataset_id)  # fmt: skip
        pid = f"{DOI_PREFIX}/{self.facility_name}-DC-{number}"
        sessions = ", ".join(f"{r.proposal} ({r.beamline}, {r.start:%Y-%m-%d})" for r, _ in picks)
        publication = add(
            DataPublication, created, facility_id=self.facility_id,
            data_collection_id=collection, type_id=self.publication_type_id, pid=pid,
            title=f"Data for: {first.title}"[:255], publication_date=published,
            subject="; ".join(first.keywords),
            description=f"Datasets selected from the sessions {sessions}, "
            f"supporting a publication on {first.title[0].lower()}{first.title[1:]}.",
        )  # fmt: skip
        for order, author in enumerate(authors, start=1):
            person = self.people[author]
            creator = add(
                DataPublicationUser, created, publication_id=publication, user_id=author,
                contributor_type="Creator", order_key=str(order), full_name=person.full_name,
                given_name=person.given_name, family_name=person.family_name,
                email=person.email,
            )  # fmt: skip
            add(Affiliation, created, user_id=creator, name=person.affiliation)
        start = min(r.start for r, _ in picks)
        end = max(r.end for r, _ in picks)
        add(DataPublicationDate, created, publication_id=publication, date_type="Collected",
            date=f"{start:%Y-%m-%d}/{end:%Y-%m-%d}")  # fmt: skip
        if published is not None:
            add(DataPublicationDate, created, publication_id=publication, date_type="Issued",
                date=f"{published:%Y-%m-%d}")  # fmt: skip
            lead = self.people[authors[0]]
            paper = f"{DOI_PREFIX}/demo-paper.{published:%Y}.{rng.randint(1000, 9999)}"
            add(RelatedItem, published, publication_id=publication, identifier=paper,
                relation_type="IsCitedBy", related_item_type="JournalArticle",
                title=first.title,
                full_reference=f"{lead.family_name}, {lead.given_name[0]}. et al. "
                f"({published:%Y}). {first.title}. J. Demo Sci. {rng.randint(1, 60)}, "
                f"{rng.randint(100, 999)}.")  # fmt: skip


def _ascii(text: str) -> str:
    """Lower-case ASCII letters only: "Núñez" -> "nunez", "O'Brien" -> "obrien"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed.lower() if "a" <= c <= "z")


def _orcid(rng: random.Random) -> str:
    """A well-formed ORCID iD (ISO 7064 MOD 11-2 check digit) of the 0000-000X-... form."""
    base = f"0000000{rng.randint(1, 3)}{rng.randrange(10**7):07d}"
    total = 0
    for digit in base:
        total = (total + int(digit)) * 2
    check = (12 - total % 11) % 11
    digits = base + ("X" if check == 10 else str(check))
    return "-".join(digits[i : i + 4] for i in range(0, 16, 4))
