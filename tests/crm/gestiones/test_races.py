"""Real races: threads with their own database connections, released together."""

import threading
from collections import Counter

from django.core.exceptions import ValidationError
from django.db import connection

from crm.gestiones import examples, services
from crm.gestiones.models import FollowUp, Gestion
from tests.crm.gestiones.conftest import step
from tests.factories import CustomerFactory, UserFactory


def _race(workers, job):
    start = threading.Barrier(len(workers))
    done, refused, errors = [], [], []

    def run(worker):
        try:
            start.wait(timeout=30)
            done.append(job(worker))
        except ValidationError as exc:
            refused.append(" ".join(exc.messages))
        except Exception as exc:  # a deadlock or a lock timeout would land here
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return done, refused, errors


def test_two_people_moving_the_same_gestion_at_once_move_it_once(roles):
    first = UserFactory(username="uno", role="Supervisor")
    second = UserFactory(username="dos", role="Supervisor")
    credit = examples.build_process(examples.CREDIT_APPLICATION, agents=[first])
    gestion = services.create_gestion(
        customer=CustomerFactory(),
        gestion_type=credit,
        data={"ingreso_mensual": "1000", "destino": "Consumo"},
    )
    action, result = step(gestion, "Revisar documentos", "Documentos completos")

    done, refused, errors = _race(
        [first, second],
        lambda actor: services.record_follow_up(
            gestion=gestion, actor=actor, action=action, result=result
        ),
    )

    assert errors == []
    assert (len(done), len(refused)) == (1, 1)
    assert "no está permitida en el estado «Pre estudio»" in refused[0]
    assert gestion.follow_ups.filter(kind=FollowUp.Kind.STEP).count() == 1


def test_gestiones_opened_at_once_are_still_shared_evenly(roles):
    agents = [UserFactory(username=f"gestor{n}", role="Asesor") for n in range(2)]
    credit = examples.build_process(examples.CREDIT_APPLICATION, agents=agents)
    customers = [CustomerFactory() for _ in range(8)]

    done, refused, errors = _race(
        customers,
        lambda customer: (
            services.create_gestion(
                customer=customer,
                gestion_type=credit,
                data={"ingreso_mensual": "1000", "destino": "Consumo"},
            ).pk
        ),
    )

    assert (errors, refused, len(done)) == ([], [], 8)
    assert Counter(Gestion.objects.values_list("agent__username", flat=True)) == {
        "gestor0": 4,
        "gestor1": 4,
    }
