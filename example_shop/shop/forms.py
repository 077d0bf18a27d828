from __future__ import annotations

from django import forms
from django.contrib.auth.forms import UserCreationForm


class AddToCartForm(forms.Form):
    quantity = forms.IntegerField(min_value=1, max_value=99, initial=1)


class UpdateCartForm(forms.Form):
    quantity = forms.IntegerField(min_value=0, max_value=99)


class CheckoutForm(forms.Form):
    email = forms.EmailField(help_text="We send the order confirmation here.")
    full_name = forms.CharField(max_length=200, label="Full name")
    address = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label="Delivery address")


class SignupForm(UserCreationForm):
    email = forms.EmailField(required=True)

    class Meta(UserCreationForm.Meta):
        fields = ("username", "email")

    def clean_username(self) -> str:
        """The username is this shop's customer key (shop/reco_adapter.py): a name that already
        keys stored history (the seeded customers have no accounts) is taken, or the new
        account would get that person's history, recommendations and data export."""
        from reco_app.adapter import customer_subject
        from reco_app.models import ConsentRecord, Event, SegmentMembership

        username: str | None = super().clean_username()  # (None: already refused there)
        if not username:
            return username  # type: ignore[return-value]
        subject = customer_subject(username)
        if any(m.objects.filter(subject=subject).exists() for m in (Event, SegmentMembership, ConsentRecord)):
            raise forms.ValidationError("A user with that username already exists.", code="unique")
        return username
