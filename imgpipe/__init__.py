"""imgpipe: run the image pipeline locally and operate the deployed stack."""
