"""The project is described in pyproject.toml; this adds only the data a wheel carries: the
starter models, presets and model list under <prefix>/share/assetsmith/resources, where
studio/models.py looks when there is no resources/ beside the packages. setuptools' data-files
take one folder per entry, so resources/ is walked here: a new starter is never left out."""
import os

from setuptools import setup

setup(data_files=[(os.path.join("share", "assetsmith", folder), [os.path.join(folder, name) for name in sorted(files)])
                  for folder, _, files in sorted(os.walk("resources")) if files])
