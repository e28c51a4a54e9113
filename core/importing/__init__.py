"""Reading and validating import files (JSONL, CSV, Parquet) against a task schema."""

from core.importing.limits import ImportLimits
from core.importing.problems import ImportFileError, ImportProblem
from core.importing.readers import (
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
    "ON_ERROR_POLICIES",
    "READERS",
    "HumanLabelRow",
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
    "read_import_bytes",
    "read_import_file",
    "validate_table",
]
