"""imgpipe local: the whole pipeline on one machine, built from the synthesized stack."""
