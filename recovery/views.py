from django.http import HttpRequest, HttpResponse


def campaign_list(request: HttpRequest) -> HttpResponse:
    return HttpResponse("")
