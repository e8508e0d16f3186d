"""Exit 0 while Celery beat is sending its periodic tasks: docker-compose's beat health check."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Max
from django.utils import timezone
from django_celery_beat.models import PeriodicTask


class Command(BaseCommand):
    help = "Comprueba que Celery beat envió alguna tarea periódica hace poco (salud de beat)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--within",
            type=int,
            default=180,
            help="Segundos desde el último envío (por defecto 180: la tarea de cada minuto).",
        )

    def handle(self, *args, **options):
        if options["within"] < 1:
            raise CommandError("--within debe ser un número positivo de segundos.")
        last = PeriodicTask.objects.filter(enabled=True).aggregate(last=Max("last_run_at"))["last"]
        if last is None:
            raise CommandError("Celery beat todavía no envió ninguna tarea periódica.")
        age = timezone.now() - last
        if age > timedelta(seconds=options["within"]):
            raise CommandError(
                f"Celery beat no envía tareas desde hace {int(age.total_seconds())} s."
            )
        self.stdout.write(f"Celery beat envió su última tarea hace {int(age.total_seconds())} s.")
