"""Tools that know no domain: any app may import them; they import no app of ours."""
