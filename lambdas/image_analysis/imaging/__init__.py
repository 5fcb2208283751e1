"""Pure image code, bytes in, model out: preparation (one decode), renditions, pixel modes, EXIF
metadata and GPS, format sniffing, offline geocoding. Imports the domain and Pillow, never AWS."""
