"""Screens of document templates: manage them, generate one on a gestión, download files."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm.gestiones import selectors as gestion_selectors
from crm.gestiones.deletions import kinds as deletion_kinds
from crm.gestiones.deletions import views as deletion_views
from crm.gestiones.documents import context, forms, rendering, selectors, services
from crm.gestiones.models import DocumentTemplate
from lib import files, lists

PAGE_SIZE = 25
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@require_GET
@permission_required("gestiones.view_documenttemplate", raise_exception=True)
def template_list(request: HttpRequest) -> HttpResponse:
    form = forms.TemplateFilterForm(request.GET)
    # A filter that does not parse (a type deleted since the link was saved) is left out,
    # and the results say so; the others still apply.
    form.is_valid()
    templates = selectors.template_list(**form.filters())
    page = Paginator(templates, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode()}
    return lists.render_page_or_fragment(
        request,
        page_template="gestiones/document_template_list.html",
        fragment_template="gestiones/partials/document_template_results.html",
        context=context,
    )


@permission_required("gestiones.add_documenttemplate", raise_exception=True)
def template_create(request: HttpRequest) -> HttpResponse:
    form = forms.DocumentTemplateForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            template = services.create_template(**form.service_data())
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("Plantilla «%(name)s» creada.") % {"name": template.name})
            return redirect("gestiones:document_template_list")
    return _render_form(request, form, template=None)


@permission_required("gestiones.change_documenttemplate", raise_exception=True)
def template_update(request: HttpRequest, pk: int) -> HttpResponse:
    template = selectors.template_for(pk)
    form = forms.DocumentTemplateForm(
        request.POST or None, request.FILES or None, template=template
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.update_template(template=template, **form.service_data())
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            messages.success(
                request, _("Plantilla «%(name)s» actualizada.") % {"name": template.name}
            )
            return redirect("gestiones:document_template_list")
    return _render_form(request, form, template=template)


@require_http_methods(["GET", "POST"])
@permission_required("gestiones.delete_documenttemplate", raise_exception=True)
def template_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask for confirmation, then delete a template (audited); documents made stay."""
    try:
        template = selectors.template_for(pk)
    except Http404:
        return deletion_views.deleted_a_moment_ago(
            request,
            kind=deletion_kinds.DOCUMENT_TEMPLATE,
            object_id=pk,
            done_url=reverse("gestiones:document_template_list"),
        )
    return deletion_views.confirm_deletion(
        request,
        what=_("la plantilla"),
        name=template.name,
        details=services.deletion_details(template),
        consequences=[
            _("Ya no se podrá generar; los documentos generados con ella siguen en sus gestiones.")
        ],
        problem="",
        delete=lambda: services.delete_template(template=template, actor=request.user),
        cancel_url=reverse("gestiones:document_template_list"),
        done_url=reverse("gestiones:document_template_list"),
        done_message=_("Plantilla eliminada: %(name)s.") % {"name": template.name},
    )


def _render_form(
    request: HttpRequest,
    form: forms.DocumentTemplateForm,
    *,
    template: DocumentTemplate | None,
) -> HttpResponse:
    return render(
        request,
        "gestiones/document_template_form.html",
        {
            "form": form,
            "template": template,
            "placeholder_groups": context.placeholder_groups(),
        },
    )


@require_GET
@permission_required("gestiones.view_documenttemplate", raise_exception=True)
def template_file(request: HttpRequest, pk: int) -> HttpResponse:
    """Serve a template's current DOCX, to edit it in Word and upload it again."""
    template = selectors.template_for(pk)
    return files.serve(template.file, content_type=DOCX_TYPE)


@require_GET
@permission_required("gestiones.view_documenttemplate", raise_exception=True)
def template_sample(request: HttpRequest) -> HttpResponse:
    """Serve a sample DOCX that uses several placeholders."""
    response = HttpResponse(rendering.sample_template(), content_type=DOCX_TYPE)
    response["Content-Disposition"] = 'attachment; filename="plantilla-ejemplo.docx"'
    return response


@require_POST
@permission_required("gestiones.add_followup", raise_exception=True)
def document_generate(request: HttpRequest, gestion_id: int, template_id: int) -> HttpResponse:
    gestion = gestion_selectors.gestion_for(request.user, gestion_id)
    template = selectors.template_for(template_id)
    try:
        follow_up = services.generate_document(
            gestion=gestion, template=template, actor=request.user
        )
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        files = [a.name for a in follow_up.attachments.all()]
        text = _("Documento «%(name)s» generado: %(files)s.") % {
            "name": template.name,
            "files": ", ".join(files),
        }
        if not any(name.lower().endswith(".pdf") for name in files):
            # Said only while it is so: with tasks run at once, the PDF is there already.
            text += " " + _("Su PDF quedó en cola: aparecerá en el seguimiento al generarse.")
        messages.success(request, text)
    return redirect(gestion.get_absolute_url())


@require_GET
def attachment_download(request: HttpRequest, pk: int) -> HttpResponse:
    """A follow-up's file, for whoever may see its gestión (selectors.attachment_for)."""
    attachment = selectors.attachment_for(request.user, pk)
    return files.serve(attachment.file, filename=attachment.name)
