from django.contrib.auth.management import create_permissions
from django.db import migrations

# Reviewers read what the bots saw and did and decide awaiting actions; they change nothing else.
# Users (jwt, OAuth payloads) are not theirs to see.
REVIEWER_PERMISSIONS = [
    ("moderation", "view_moderator"),
    ("moderation", "view_evaluationevent"),
    ("moderation", "view_actionevent"),
    ("moderation", "view_actionreview"),
    ("moderation", "decide_action"),
]


def create_reviewers_group(apps, schema_editor):
    # Permissions are made by a post_migrate handler, after every migration of the run; on a fresh
    # database they do not exist yet here, so make them now (idempotent).
    for app_label in {app_label for app_label, _ in REVIEWER_PERMISSIONS}:
        app_config = apps.get_app_config(app_label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="reviewers")
    for app_label, codename in REVIEWER_PERMISSIONS:
        group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def delete_reviewers_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="reviewers").delete()


class Migration(migrations.Migration):
    """The `reviewers` group: read events, decide actions, nothing else."""

    dependencies = [
        ("moderation", "0005_action_reviews"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(create_reviewers_group, reverse_code=delete_reviewers_group),
    ]
