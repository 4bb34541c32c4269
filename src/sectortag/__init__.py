"""sectortag: tag paragraphs of Vietnamese articles and reports with policy sectors.

    from sectortag import SectorTagger
    tagger = SectorTagger.load()
    tagger.predict(["..."])
"""

from .errors import ConfigError, DataError, ModelError, SectorTagError
from .labels import SECTOR_CODES, SECTORS
from .model import SectorTagger

__all__ = ["SectorTagger", "SECTORS", "SECTOR_CODES", "SectorTagError", "DataError", "ModelError", "ConfigError"]
__version__ = "0.1.0"
