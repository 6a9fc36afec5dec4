from django.db import migrations, models

from dbops.operations import RerunnableAddIndexConcurrently


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("indexapp", "0001_initial")]
    operations = [
        RerunnableAddIndexConcurrently(
            model_name="item", index=models.Index(fields=["label"], name="indexapp_item_label_idx")
        ),
    ]
