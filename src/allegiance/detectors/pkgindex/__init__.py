"""Package references in model answers, and whether those packages exist.

Used by the ``packages`` detector (:mod:`allegiance.detectors.packages`):

* :mod:`.references` (with :mod:`.refs_python`, :mod:`.refs_js`, :mod:`.refs_install`,
  :mod:`.refs_manifest`): the packages an answer imports, installs or lists in a manifest;
* :mod:`.index` (with :mod:`.snapshot`, :mod:`.cache`): existence and popularity, offline;
* :mod:`.online`: the explicit, optional registry lookups that fill the cache;
* :mod:`.typosquat`: near-misses of popular names;
* :mod:`.build`: how the shipped snapshot in ``data/`` was made.
"""
