"""The portal's Celery door: the worker makes and sends the code, not the request.

Made in the request, a registered document cost the request the code's rows and its
message, and an unknown one cost nothing: the answer's time told them apart. Queued, both
cost the request one publish.
"""

from celery import shared_task

from collections_app.portal import services


@shared_task(bind=True, name="collections_app.portal_request_code")
def request_code(self, document_type: str, document_number: str) -> None:
    # A message delivered again (a worker lost before its ack) keeps its task id: the same
    # request, which sends no second code and leaves the first one valid.
    services.request_code(
        document_type=document_type,
        document_number=document_number,
        request_id=self.request.id or "",
    )
