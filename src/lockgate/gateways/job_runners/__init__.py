"""Where job runs are carried out: processes on this machine (AWS Batch is in ``aws``)."""
