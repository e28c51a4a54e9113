"""Reading and validating import files (JSONL, CSV, Parquet) against a task schema."""

from core.importing.images import CheckedImage, ImageError, ImageSource
from core.importing.limits import ImportLimits
from core.importing.problems import (
    PRINTED_PROBLEMS,
    ImportFileError,
    ImportProblem,
    problem_lines,
    problems_jsonl,
    report_file_name,
)
from core.importing.readers import (
    FORMAT_OF_EXTENSION,
    READERS,
    RawTable,
    detect_format,
    read_import_bytes,
    read_import_file,
)
from core.importing.validate import (
    ON_ERROR_POLICIES,
    HumanLabelRow,
    ImportBatch,
    ImportRejected,
    ItemRow,
    RaterLabels,
    ValidItems,
    VerdictRow,
    check_policy,
    validate_table,
)

__all__ = [
    "FORMAT_OF_EXTENSION",
    "ON_ERROR_POLICIES",
    "PRINTED_PROBLEMS",
    "READERS",
    "CheckedImage",
    "HumanLabelRow",
    "ImageError",
    "ImageSource",
    "ImportBatch",
    "ImportFileError",
    "ImportLimits",
    "ImportProblem",
    "ImportRejected",
    "ItemRow",
    "RaterLabels",
    "RawTable",
    "ValidItems",
    "VerdictRow",
    "check_policy",
    "detect_format",
    "problem_lines",
    "problems_jsonl",
    "read_import_bytes",
    "read_import_file",
    "report_file_name",
    "validate_table",
]
