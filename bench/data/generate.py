"""Write the benchmark event bodies charge-5k.json and charge-100k.json next to this script.

All names, addresses, ids and amounts are invented. Each event has its own fixed seed,
so rerunning this script rewrites both files byte for byte.
"""
import json
import pathlib
import random
import string

rng = random.Random()
BASE62 = string.ascii_letters + string.digits


def object_id(prefix):
    """Return an id shaped like Stripe's, with the prefix, an underscore and 24 base62 characters."""
    return f"{prefix}_1" + "".join(rng.choice(BASE62) for _ in range(23))


def compact(obj):
    """Serialize without whitespace, with non-ASCII text as raw UTF-8."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


CHARGE_CREATED = 1796402113  # 2026-12-04T16:35:13Z


def charge_event():
    """Build a charge.succeeded event for a card payment with 3-D Secure, about 5.2 KB compact."""
    rng.seed(5_000)
    charge_id = object_id("ch").replace("_1", "_3", 1)
    payment_intent_id = "pi" + charge_id[2:]
    payment_method_id = object_id("pm")
    customer_id = "cus_" + "".join(rng.choice(BASE62) for _ in range(14))
    balance_transaction_id = "txn" + charge_id[2:]
    receipt_token = "".join(rng.choice(BASE62) for _ in range(56))
    charge = {
        "id": charge_id,
        "object": "charge",
        "amount": 18990,
        "amount_captured": 18990,
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": balance_transaction_id,
        "billing_details": {
            "address": {
                "city": "Zürich",
                "country": "CH",
                "line1": "Bäckerstrasse 41",
                "line2": "3. Stock",
                "postal_code": "8004",
                "state": "ZH",
            },
            "email": "zoe.mueller-lukasiewicz@example.com",
            "name": "Zoë Müller-Łukasiewicz",
            "phone": "+41445550123",
            "tax_id": None,
        },
        "calculated_statement_descriptor": "KAFFEERÖSTEREI*ORDER 4812",
        "captured": True,
        "created": CHARGE_CREATED,
        "currency": "chf",
        "customer": customer_id,
        "description": "Bestellung #4812 – Röstkaffee-Abo (3 × 500 g), Espresso „Très Fort“",
        "destination": None,
        "dispute": None,
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "fraud_details": {},
        "livemode": False,
        "metadata": {
            "order_id": "4812",
            "cart_id": "c7f0b3e2-54a1-4d8e-9b6f-2f1d0a9e7c31",
            "customer_ref": "KD-20931",
            "channel": "webshop",
            "locale": "de-CH",
            "gift_message": "Alles Gute zum Geburtstag, Łucja! ☕",
            "fulfillment_center": "Winterthur",
            "campaign": "winter-2026",
            "items": "3× Röstkaffee-Abo Äthiopien Yirgacheffe 500 g (Bohne); 1× Espresso „Très Fort“ 250 g (gemahlen, Siebträger); 1× Geschenkverpackung Kraftpapier",
            "item_skus": "ABO-ETH-YRG-500B,ESP-TF-250G-ST,GV-KRAFT-01",
            "shipping_method": "PostPac Priority",
            "shipping_cost_chf": "9.00",
            "discount_code": "WINTER15",
            "discount_chf": "28.50",
            "vat_rate": "8.1",
            "vat_chf": "14.23",
            "loyalty_tier": "gold",
            "loyalty_points_earned": "190",
            "terms_version": "2026-03",
            "utm_source": "newsletter",
            "utm_medium": "email",
            "utm_campaign": "adventskalender-tuer-4",
            "referrer": "https://www.example.ch/de/kaffee/abos?sort=beliebt",
            "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
            "checkout_version": "web-4.18.2",
            "erp_export_batch": "2026-12-04T21:00Z/EB-771",
            "subscription_plan": "abo-monatlich-3x500",
            "subscription_interval": "month",
            "next_delivery": "2027-01-04",
            "roast_preferences": "hell bis mittel; keine Robusta-Anteile; Mahlgrad fein für Bialetti beim Espresso, ganze Bohne beim Abo",
            "customer_note": "Pourriez-vous joindre la facture en français ? Grazie mille, la miscela dell’ultima volta era perfetta.",
            "gift_recipient": "Łucja Nowak",
            "gift_wrap": "true",
            "invoice_language": "fr",
            "sales_region": "CH-Romandie",
            "warehouse_pick_list": "WH-WIN-2026-12-04-0412",
            "fraud_screening": "passed:v3:score=0.07",
            "ab_test_bucket": "checkout-one-page:B",
            "app_build": "2026.48.1 (storefront)",
            "packaging_instructions": "Kaffee luftdicht verpacken, Geschenkkarte obenauf legen; keine Rechnung in das Geschenkpaket – Rechnung separat per E-Mail.",
            "support_ticket": "ZD-118204",
            "origin_story_url": "https://www.example.ch/de/herkunft/yirgacheffe-kooperative",
            "delivery_note": "Bitte beim Nachbarn im Erdgeschoss abgeben, falls niemand öffnet. Merci !",
        },
        "on_behalf_of": None,
        "order": None,
        "outcome": {
            "advice_code": None,
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "risk_score": 21,
            "seller_message": "Payment complete.",
            "type": "authorized",
        },
        "paid": True,
        "payment_intent": payment_intent_id,
        "payment_method": payment_method_id,
        "payment_method_details": {
            "card": {
                "amount_authorized": 18990,
                "authorization_code": "804217",
                "brand": "visa",
                "capture_before": CHARGE_CREATED + 7 * 86400,
                "checks": {
                    "address_line1_check": "pass",
                    "address_postal_code_check": "pass",
                    "cvc_check": "pass",
                },
                "country": "CH",
                "exp_month": 9,
                "exp_year": 2029,
                "extended_authorization": {"status": "disabled"},
                "fingerprint": "".join(rng.choice(BASE62) for _ in range(16)),
                "funding": "credit",
                "incremental_authorization": {"status": "unavailable"},
                "installments": None,
                "last4": "4242",
                "mandate": None,
                "multicapture": {"status": "unavailable"},
                "network": "visa",
                "network_token": {"used": False},
                "network_transaction_id": "".join(rng.choice(string.digits) for _ in range(15)),
                "overcapture": {"maximum_amount_capturable": 18990, "status": "unavailable"},
                "regulated_status": "unregulated",
                "three_d_secure": {
                    "authentication_flow": "challenge",
                    "electronic_commerce_indicator": "05",
                    "exemption_indicator": None,
                    "result": "authenticated",
                    "result_reason": None,
                    "transaction_id": "3f9a61c2-7d0e-4b58-a1c4-90e2d7b6f813",
                    "version": "2.2.0",
                },
                "wallet": None,
            },
            "type": "card",
        },
        "radar_options": {},
        "receipt_email": "zoe.mueller-lukasiewicz@example.com",
        "receipt_number": "2381-4420",
        "receipt_url": f"https://pay.stripe.com/receipts/payment/{receipt_token}",
        "refunded": False,
        "review": None,
        "shipping": {
            "address": {
                "city": "Genève",
                "country": "CH",
                "line1": "Rue de l’Écluse 7",
                "line2": None,
                "postal_code": "1205",
                "state": "GE",
            },
            "carrier": "Die Post",
            "name": "Łucja Nowak",
            "phone": "+41225550188",
            "tracking_number": "99.00.412381.20931876",
        },
        "source": None,
        "source_transfer": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": "ORDER 4812",
        "status": "succeeded",
        "transfer_data": None,
        "transfer_group": None,
    }
    return {
        "id": object_id("evt").replace("_1", "_3", 1),
        "object": "event",
        "api_version": "2025-09-30.clover",
        "created": CHARGE_CREATED + 1,
        "data": {"object": charge},
        "livemode": False,
        "pending_webhooks": 2,
        "request": {"id": "req_" + "".join(rng.choice(BASE62) for _ in range(14)),
                    "idempotency_key": "b1e5c0d4-8a27-4f3e-9c61-7d2a0f5b9e48"},
        "type": "charge.succeeded",
    }


PROJECTS = [
    "Küstenpegel Nordsee", "Wärmepumpen-Monitoring", "Lieferketten-Dashboard", "Citéo Mobilité",
    "Qualitätssicherung Werk Görlitz", "Énergie Rhône-Alpes", "Fahrgastzählung S-Bahn", "Sæson-Prognose Ålborg",
    "Predictive Maintenance Linz", "Bodenfeuchte Weinberge Mosel", "Kundenzufriedenheit Q4", "Ladesäulen-Auslastung",
    "Retouren-Analyse Süd", "Smart Metering Łódź", "Flottentelemetrie", "Betriebsdaten Kläranlage Nord",
]
OWNERS = [
    "Dr. Jürgen Øster", "Anaïs Lefèvre", "Małgorzata Wiśniewska", "Søren Kjærgaard", "Björn Hällström",
    "Chloé Dubois-Müller", "Zoltán Kovács", "Inés Peña", "Ólafur Þórsson", "Renée Fağlı",
]
REGIONS = ["eu-central", "eu-west", "eu-north"]
UNITS = [
    ("Ereignisse", "events"), ("GB-Monate", "gb_months"), ("API-Aufrufe", "api_calls"),
    ("GB Egress", "egress_gb"), ("Rechenstunden", "compute_hours"), ("Zeitreihen", "series"),
]
FIRST_NAMES = ["Anaïs", "Björn", "Chloé", "Dóra", "Émile", "Frédéric", "Gül", "Håkon", "Inés", "Jürgen",
               "Kübra", "Łukasz", "Márta", "Noémie", "Øystein", "Paweł", "Ramón", "Søren", "Tomáš", "Zoë"]
LAST_NAMES = ["Lefèvre", "Hällström", "Wiśniewska", "Kjærgaard", "Dubois-Müller", "Kovács", "Peña",
              "Þórsson", "Fağlı", "Nováková", "Grünewald", "Østergaard", "Šimůnek", "Çelik", "Weiß"]

LINE_SPECS = [
    # (description, quantity, unit_amount_decimal in cents, index into UNITS or None for a flat fee)
    ("Plattformgebühr Business (monatlich)", 1, "149000", None),
    ("Benutzerlizenzen Analyst × 42", 42, "3900", None),
    ("Erfasste Ereignisse (pro 1.000)", 184213, "1.25", 0),
    ("Speicher heiß (GB-Monat)", 9184, "2.3", 1),
    ("Speicher Archiv (GB-Monat)", 61420, "0.4", 1),
    ("API-Aufrufe (pro 10.000)", 77310, "3.1", 2),
    ("Datenübertragung ins Internet (GB)", 12877, "7.5", 3),
    ("Rechenzeit Modelltraining (Stunden)", 1312, "48", 4),
    ("Premium-Support 24/7 – Reaktionszeit 1 h", 1, "99000", None),
    ("Zusatzmodul „Anomalieerkennung“ – analysierte Zeitreihen", 2210, "18", 5),
]


def usage_note(project, unit_label, amount):
    owner = rng.choice(OWNERS)
    region = rng.choice(REGIONS)
    cost_center = rng.randrange(4000, 4999)
    meter = "mtr_" + "".join(rng.choice(BASE62) for _ in range(14))
    tier = rng.randrange(1, 4)
    grouped_amount = f"{amount:,}".replace(",", ".")  # German digit grouping: 1.284.113
    return (f"Projekt „{project}“ · {grouped_amount} {unit_label} · Region {region} · "
            f"Zeitraum 01.11.–30.11.2026 · KST {cost_center} · Verantwortlich: {owner} · "
            f"Zähler {meter} · Tarifstufe {tier}")


def line_metadata(spec_index, unit):
    """Build the metadata of one invoice line.

    A flat-fee line gets a note, and the seat line also lists its 42 seats. A usage line
    gets a per-project breakdown that stops at Stripe's limit of 50 metadata keys.
    """
    metadata = {
        "sku": f"NLA-{spec_index:02d}-{rng.randrange(100, 999)}",
        "contract": "RV-2025-0193 Anlage 3",
        "meter_snapshot_at": "2026-12-01T00:00:00Z",
        "billing_run": "BR-2026-12-01-0007",
    }
    if spec_index == 1:
        for seat in range(1, 43):
            name = f"{FIRST_NAMES[seat % 20]} {LAST_NAMES[(seat * 7) % 15]}"
            since = f"2025-{rng.randrange(3, 13):02d}-{rng.randrange(1, 29):02d}"
            metadata[f"seat_{seat:02d}"] = f"{name} · Analyst · aktiv seit {since}"
    if unit is None:
        metadata["note"] = ("Pauschal gemäß Rahmenvertrag §4.2; anteilige Anpassungen erscheinen "
                            "als separate Gutschrift. Facturation forfaitaire selon l’accord-cadre.")
        return metadata
    label, key = unit
    for number, project in enumerate(PROJECTS * 3):
        if len(metadata) >= 50:
            break
        amount = rng.randrange(1_000, 9_000_000)
        metadata[f"{key}_p{number:02d}"] = usage_note(project, label, amount)
    return metadata


def invoice_event():
    """Build an invoice.payment_succeeded event for a usage-billed subscription, about 97 KB compact."""
    rng.seed(100_000)
    invoice_id = object_id("in")
    customer = "cus_" + "".join(rng.choice(BASE62) for _ in range(14))
    subscription = object_id("sub")
    discount = "di_" + "".join(rng.choice(BASE62) for _ in range(24))
    tax_rate = "txr_" + "".join(rng.choice(BASE62) for _ in range(24))
    account = "acct_" + "".join(rng.choice(BASE62) for _ in range(16))
    period_start = 1793491200  # 2026-11-01T00:00:00Z
    period_end = 1796083200    # 2026-12-01T00:00:00Z
    created = period_end + 3417

    lines = []
    subtotal = 0
    for index, (description, quantity, unit_amount_decimal, unit_index) in enumerate(LINE_SPECS):
        amount = round(quantity * float(unit_amount_decimal))
        subtotal += amount
        unit = UNITS[unit_index] if unit_index is not None else None
        discount_amount = amount // 10
        lines.append({
            "id": "il_" + "".join(rng.choice(BASE62) for _ in range(24)),
            "object": "line_item",
            "amount": amount,
            "currency": "eur",
            "description": description,
            "discount_amounts": [{"amount": discount_amount, "discount": discount}],
            "discountable": True,
            "discounts": [],
            "invoice": invoice_id,
            "livemode": False,
            "metadata": line_metadata(index, unit),
            "parent": {
                "invoice_item_details": None,
                "subscription_item_details": {
                    "invoice_item": None,
                    "proration": False,
                    "proration_details": {"credited_items": None},
                    "subscription": subscription,
                    "subscription_item": "si_" + "".join(rng.choice(BASE62) for _ in range(14)),
                },
                "type": "subscription_item_details",
            },
            "period": {"end": period_end, "start": period_start},
            "pretax_credit_amounts": [{
                "amount": discount_amount,
                "credit_balance_transaction": None,
                "discount": discount,
                "type": "discount",
            }],
            "pricing": {
                "price_details": {
                    "price": "price_" + "".join(rng.choice(BASE62) for _ in range(24)),
                    "product": "prod_" + "".join(rng.choice(BASE62) for _ in range(14)),
                },
                "type": "price_details",
                "unit_amount_decimal": unit_amount_decimal,
            },
            "quantity": quantity,
            "taxes": [{
                "amount": 0,
                "tax_behavior": "exclusive",
                "tax_rate_details": {"tax_rate": tax_rate},
                "taxability_reason": "reverse_charge",
                "taxable_amount": amount - discount_amount,
                "type": "tax_rate_details",
            }],
        })

    discount_total = sum(line["discount_amounts"][0]["amount"] for line in lines)
    # An invoice embeds only its first line items and links the rest through lines.url,
    # so the totals also cover line items that are not embedded here.
    hidden_lines_amount = 1_284_530
    subtotal += hidden_lines_amount
    discount_total += hidden_lines_amount // 10
    total = subtotal - discount_total
    invoice_metadata = {
        "erp_document": "AR-2026-118734",
        "purchase_order": "PO-2026-11873",
        "billing_contact": "Anaïs Lefèvre <comptabilite@example.fr>",
        "payment_terms": "Prélèvement automatique à réception; aucune pénalité de retard applicable.",
        "contract": "RV-2025-0193",
        "contract_term": "2025-03-01/2028-02-29",
        "usage_export": "s3://nla-usage-exports/2026/11/cus-export-118734.parquet",
    }
    for number, project in enumerate(PROJECTS):
        invoice_metadata[f"project_{number:02d}"] = (
            f"{project} – Budgetfreigabe {rng.randrange(10, 99)}k € durch {rng.choice(OWNERS)}; "
            f"Verrechnung intern über KST {rng.randrange(4000, 4999)}, Leistungsempfänger gemäß §13b UStG")
    subscription_metadata = {
        "plan_family": "business-usage-2025",
        "sales_owner": "Björn Hällström",
        "renewal_notice": "90 Tage zum Laufzeitende; Kündigung schriftlich an vertrag@example.de",
        "onboarding_completed": "2025-04-17",
        "sla": "99,95 % monatlich, Gutschrift gemäß Anlage 5 (Service Level Agreement)",
        "data_residency": "EU (Frankfurt am Main, Stockholm)",
        "dpa_version": "AVV 2025-01 – Auftragsverarbeitungsvertrag nach Art. 28 DSGVO",
    }
    footer = (
        "Nordlicht Analytics GmbH · Hafenstraße 12 · 20457 Hamburg · Geschäftsführung: Jörg Bærentsen, "
        "Hélène Kowalczyk · Amtsgericht Hamburg HRB 000000 · USt-IdNr. DE000000000. "
        "Steuerschuldnerschaft des Leistungsempfängers (Reverse Charge) – Autoliquidation, article 196 "
        "de la directive 2006/112/CE. Die Zahlung wurde per Karte eingezogen; eine Überweisung ist nicht "
        "erforderlich. Fragen zur Rechnung: rechnung@example.de · Questions : facturation@example.fr · "
        "ご請求に関するお問い合わせは billing-jp@example.com までご連絡ください。"
    )
    invoice = {
        "id": invoice_id,
        "object": "invoice",
        "account_country": "DE",
        "account_name": "Nordlicht Analytics GmbH",
        "account_tax_ids": None,
        "amount_due": total,
        "amount_overpaid": 0,
        "amount_paid": total,
        "amount_remaining": 0,
        "amount_shipping": 0,
        "application": None,
        "attempt_count": 1,
        "attempted": True,
        "auto_advance": False,
        "automatic_tax": {
            "disabled_reason": None,
            "enabled": True,
            "liability": {"type": "self"},
            "provider": "stripe",
            "status": "complete",
        },
        "automatically_finalizes_at": None,
        "billing_reason": "subscription_cycle",
        "collection_method": "charge_automatically",
        "created": created,
        "currency": "eur",
        "custom_fields": [
            {"name": "Bestellnummer", "value": "PO-2026-11873"},
            {"name": "Kostenstelle", "value": "KST 4410 – F&E"},
            {"name": "Leistungszeitraum", "value": "01.11.–30.11.2026"},
        ],
        "customer": customer,
        "customer_address": {
            "city": "Lyon",
            "country": "FR",
            "line1": "17 quai Saint-Vincent",
            "line2": "Bâtiment C, 4ᵉ étage",
            "postal_code": "69001",
            "state": None,
        },
        "customer_email": "comptabilite@example.fr",
        "customer_name": "Société Lumière & Fils SAS",
        "customer_phone": "+33478000000",
        "customer_shipping": None,
        "customer_tax_exempt": "reverse",
        "customer_tax_ids": [{"type": "eu_vat", "value": "FR00000000000"}],
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": ("Nutzungsabhängige Abrechnung November 2026 – Tableau de bord et analyses. "
                        "Die vollständige Aufstellung aller Positionen finden Sie im Kundenportal."),
        "discounts": [discount],
        "due_date": None,
        "effective_at": created + 3600,
        "ending_balance": 0,
        "footer": footer,
        "from_invoice": None,
        "hosted_invoice_url": f"https://invoice.stripe.com/i/{account}/test_" + "".join(rng.choice(BASE62) for _ in range(120)) + "?s=ap",
        "invoice_pdf": f"https://pay.stripe.com/invoice/{account}/test_" + "".join(rng.choice(BASE62) for _ in range(120)) + "/pdf?s=ap",
        "issuer": {"type": "self"},
        "last_finalization_error": None,
        "latest_revision": None,
        "lines": {
            "object": "list",
            "data": lines,
            "has_more": True,
            "total_count": 31,
            "url": f"/v1/invoices/{invoice_id}/lines",
        },
        "livemode": False,
        "metadata": invoice_metadata,
        "next_payment_attempt": None,
        "number": "NLA-0042-0117",
        "on_behalf_of": None,
        "parent": {
            "quote_details": None,
            "subscription_details": {"metadata": subscription_metadata, "subscription": subscription},
            "type": "subscription_details",
        },
        "payment_settings": {
            "default_mandate": None,
            "payment_method_options": {
                "acss_debit": None,
                "bancontact": None,
                "card": {"request_three_d_secure": "automatic"},
                "customer_balance": None,
                "konbini": None,
                "sepa_debit": None,
                "us_bank_account": None,
            },
            "payment_method_types": ["card", "sepa_debit"],
        },
        "period_end": period_end,
        "period_start": period_start,
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "receipt_number": "2417-8830",
        "rendering": {
            "amount_tax_display": "exclude_tax",
            "pdf": {"page_size": "a4"},
            "template": None,
            "template_version": None,
        },
        "shipping_cost": None,
        "shipping_details": None,
        "starting_balance": 0,
        "statement_descriptor": None,
        "status": "paid",
        "status_transitions": {
            "finalized_at": created + 3600,
            "marked_uncollectible_at": None,
            "paid_at": created + 3604,
            "voided_at": None,
        },
        "subtotal": subtotal,
        "subtotal_excluding_tax": subtotal,
        "test_clock": None,
        "total": total,
        "total_discount_amounts": [{"amount": discount_total, "discount": discount}],
        "total_excluding_tax": total,
        "total_pretax_credit_amounts": [{
            "amount": discount_total,
            "credit_balance_transaction": None,
            "discount": discount,
            "type": "discount",
        }],
        "total_taxes": [{
            "amount": 0,
            "tax_behavior": "exclusive",
            "tax_rate_details": {"tax_rate": tax_rate},
            "taxability_reason": "reverse_charge",
            "taxable_amount": total,
            "type": "tax_rate_details",
        }],
        "webhooks_delivered_at": created + 2,
    }
    return {
        "id": object_id("evt"),
        "object": "event",
        "api_version": "2025-09-30.clover",
        "created": created + 3605,
        "data": {"object": invoice},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": "invoice.payment_succeeded",
    }


def main():
    data_dir = pathlib.Path(__file__).resolve().parent
    (data_dir / "charge-5k.json").write_text(compact(charge_event()), encoding="utf-8")
    (data_dir / "charge-100k.json").write_text(compact(invoice_event()), encoding="utf-8")


if __name__ == "__main__":
    main()
