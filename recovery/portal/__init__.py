"""The /recovery portal: a debtor with an active written-off campaign identifies with a
document number and reCAPTCHA, sees the offer, pays it or says why not."""
