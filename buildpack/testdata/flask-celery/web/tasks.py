from web import celery


@celery.task
def nightly():
    pass
