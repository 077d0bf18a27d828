from django.db import migrations, models


def existing_rows_cover_existing_versions(apps, schema_editor):  # type: ignore[no-untyped-def]
    ModelVersion = apps.get_model("reco_app", "ModelVersion")
    SuppressedSubject = apps.get_model("reco_app", "SuppressedSubject")
    top = ModelVersion.objects.order_by("-id").values_list("id", flat=True).first() or 0
    SuppressedSubject.objects.update(last_version=top)


class Migration(migrations.Migration):

    dependencies = [
        ("reco_app", "0007_consent_cookie_settings_method"),
    ]

    operations = [
        migrations.CreateModel(
            name="ErasureMarker",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("subject", models.CharField(blank=True, db_index=True, max_length=128, verbose_name="subject")),
                ("erased_at", models.DateTimeField(db_index=True, verbose_name="erased at")),
            ],
            options={
                "verbose_name": "erasure marker",
                "verbose_name_plural": "erasure markers",
                "ordering": ["-id"],
            },
        ),
        migrations.AddField(
            model_name="modelversion",
            name="pruned_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="files pruned at"),
        ),
        migrations.AddField(
            model_name="suppressedsubject",
            name="last_version",
            field=models.PositiveIntegerField(default=0, verbose_name="applies to versions up to"),
        ),
        migrations.AlterField(
            model_name="suppressedsubject",
            name="created_at",
            field=models.DateTimeField(auto_now_add=True, verbose_name="erased at"),
        ),
        migrations.RunPython(existing_rows_cover_existing_versions, migrations.RunPython.noop),
    ]
