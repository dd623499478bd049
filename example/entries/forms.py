from django import forms

from .models import Entry, Upload


class EntryForm(forms.ModelForm):
    class Meta:
        model = Entry
        fields = ["text"]


class UploadForm(forms.ModelForm):
    class Meta:
        model = Upload
        fields = ["file"]
