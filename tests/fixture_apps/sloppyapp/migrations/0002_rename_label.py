from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("sloppyapp", "0001_initial")]
    operations = [migrations.RenameField("tag", "label", "title")]
